// Issue 12, audit item 3: the spool as segments plus a cursor. Gatehouse runs as a child process
// with an HTTP audit sink whose receiver is down, so thousands of records go to the spool; the
// receiver comes back (slow), and Gatehouse is SIGKILLed in the middle of the drain. The next start
// delivers the rest: every record arrives, the replayed ones are at most the batch that was in
// flight at the kill (the cursor is saved after every delivered batch), and the spool empties.
// Stalls are measured by bench/spool-drain.ts (npm run bench:spool), not here.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { verifyLines } from '../../src/audit/chain.ts';
import { driveLoad, startGatehouseChild, writeAuditConfig } from '../support/audit-gatehouse.ts';
import { startHttpReceiver } from '../support/audit-receivers.ts';
import { bootIdOf, firstDeliveries, parseRecords, sequenceOf } from '../support/audit.ts';
import { deadPort, startUpstream } from '../support/upstream.ts';

const TOKEN = 'spool-drain-fault-token-0123456789';
/** The writer's batch: what one delivery (and one cursor save) covers. */
const BATCH = 500;

const segments = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.spool')) : []);

describe('spool drain across SIGKILL', () => {
  it('Gatehouse killed mid-drain: the next start delivers the rest; repeats at most one batch; the spool empties', {
    timeout: 180_000,
  }, async () => {
    const up = await startUpstream();
    const port = await deadPort();
    const rx = await startHttpReceiver({ token: TOKEN, port, listen: false });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-fault-spool-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const spoolDir = join(dir, 'spool');
    const config = writeAuditConfig(dir, up.url, [
      `spool_dir: "${spoolDir}"`,
      'sinks:',
      '  - type: http',
      `    url: "http://127.0.0.1:${port}/ingest"`,
      '    format: ndjson',
      `    token: "${TOKEN}"`,
      '    batch_size: 100',
    ]);

    // Run 1: the receiver is down; every record goes to the spool.
    const first = await startGatehouseChild(config);
    const N = 4000;
    const ids = await driveLoad(first.url, { concurrency: 8, max: N, more: () => true });
    expect(ids).toHaveLength(N);
    expect(segments(spoolDir).length).toBeGreaterThan(0);

    // The receiver comes back, slowly; Gatehouse dies a third of the way through the drain.
    rx.delayMs = 20;
    await rx.start();
    await expect.poll(() => firstDeliveries(parseRecords(rx.lines)).length, { timeout: 60_000, interval: 20 }).toBeGreaterThan(N / 3);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');
    const atKill = firstDeliveries(parseRecords(rx.lines)).length;
    expect(atKill).toBeLessThan(N);

    // Run 2 delivers the rest of run 1's records (and its own, in a chain of its own).
    const second = await startGatehouseChild(config);
    const bootId = bootIdOf(parseRecords(rx.lines)[0]!);
    const fromFirst = () => firstDeliveries(parseRecords(rx.lines)).filter((r) => bootIdOf(r) === bootId);
    await expect.poll(() => fromFirst().length, { timeout: 60_000, interval: 50 }).toBe(N);
    const records = parseRecords(rx.lines).filter((r) => bootIdOf(r) === bootId);
    const repeats = records.length - N;
    console.info(`spool drain across SIGKILL: ${N} records, ${atKill} delivered before the kill, ${repeats} delivered twice`);
    expect(fromFirst().map(sequenceOf)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(new Set(fromFirst().map((r) => r.http.request.id))).toEqual(new Set(ids));
    expect(repeats).toBeLessThanOrEqual(BATCH);
    expect(verifyLines(rx.lines)).toMatchObject({ ok: true, records: N, chains: 1 });
    expect(rx.problems).toEqual([]);
    await expect.poll(() => segments(spoolDir), { timeout: 10_000 }).toEqual([]);
    expect(await second.stop('SIGTERM')).toBe(0);
  });
});
