// Records spooled to disk survive the process being killed: Gatehouse runs as a real child process
// with an HTTP audit sink whose receiver is down, is SIGKILLed once its spool holds every record,
// and the next start delivers them all, in order, as soon as the receiver is up.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { verifyLines } from '../../src/audit/chain.ts';
import { startHttpReceiver } from '../support/audit-receivers.ts';
import { bootIdOf, firstDeliveries, parseRecords, sequenceOf } from '../support/audit.ts';
import { CHILD_TEST_TIMEOUT_MS, CHILD_WAIT_MS, listeningUrl, spawnGatehouse, type GatehouseProcess } from '../support/child.ts';
import { getJson } from '../support/http.ts';
import { deadPort, startUpstream } from '../support/upstream.ts';

const TOKEN = 'audit-kill-test-token-0123456789';

/** `gatehouse start --config file`, once it logged "gatehouse listening". */
async function startChild(configFile: string): Promise<{ readonly child: GatehouseProcess; readonly url: string }> {
  const child = spawnGatehouse(['start', '--config', configFile]);
  return { child, url: listeningUrl(await child.waitFor(/"msg":"gatehouse listening"/, '"gatehouse listening"')) };
}

function spooledLines(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.spool'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );
}

describe('audit spool across a crash', () => {
  it(
    'records spooled while the sink is down survive SIGKILL and are delivered, in order, after the restart',
    async () => {
      const up = await startUpstream();
      const port = await deadPort();
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-kill-'));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      const spoolDir = join(dir, 'spool');
      const configFile = join(dir, 'gatehouse.yaml');
      writeFileSync(
        configFile,
        [
          'log_level: info',
          'server:',
          '  listen: "127.0.0.1:0"',
          '  public_url: "http://127.0.0.1:4180"',
          '  shutdown_timeout: "1s"',
          'admin:',
          '  listen: "127.0.0.1:0"',
          'audit:',
          `  spool_dir: "${spoolDir}"`,
          '  sinks:',
          '    - type: http',
          `      url: "http://127.0.0.1:${port}/ingest"`,
          '      format: ndjson',
          `      token: "${TOKEN}"`,
          '      timeout: "2s"',
          'routes:',
          '  - name: app',
          `    upstream: "${up.url}"`,
          '    allow: { public: true }',
          '',
        ].join('\n'),
      );

      // First run: the receiver is down, every record goes to the spool.
      const first = await startChild(configFile);
      const N = 25;
      const ids: string[] = [];
      for (let i = 0; i < N; i++) {
        const r = await getJson(`${first.url}/item/${i}`);
        expect(r.status).toBe(200);
        ids.push(String(r.headers['x-request-id']));
      }
      await expect.poll(() => spooledLines(spoolDir).length, { timeout: CHILD_WAIT_MS, interval: 50 }).toBe(N);
      expect((await first.child.stop('SIGKILL')).signal).toBe('SIGKILL');
      const spooled = parseRecords(spooledLines(spoolDir));
      expect(spooled.map((r) => r.http.request.id)).toEqual(ids);
      const bootId = bootIdOf(spooled[0]!);

      // The receiver comes up; a new process with the same config delivers the old records.
      const rx = await startHttpReceiver({ token: TOKEN, port });
      const second = await startChild(configFile);
      await expect
        .poll(() => firstDeliveries(parseRecords(rx.lines)).filter((r) => bootIdOf(r) === bootId).length, {
          timeout: CHILD_WAIT_MS,
          interval: 50,
        })
        .toBe(N);
      expect(rx.problems).toEqual([]);
      const delivered = firstDeliveries(parseRecords(rx.lines));
      expect(delivered.map(bootIdOf)).toEqual(ids.map(() => bootId));
      expect(delivered.map(sequenceOf)).toEqual(ids.map((_, i) => i + 1));
      expect(delivered.map((r) => r.http.request.id)).toEqual(ids);
      expect(delivered.map((r) => r.url.path)).toEqual(ids.map((_, i) => `/item/${i}`));
      expect(verifyLines(rx.lines)).toMatchObject({ ok: true, records: N, chains: 1 });
      // Delivered: the spool empties.
      await expect.poll(() => spooledLines(spoolDir).length, { timeout: CHILD_WAIT_MS }).toBe(0);

      // New records of the second process follow, in a chain of their own.
      const r = await getJson(`${second.url}/after-restart`);
      expect(r.status).toBe(200);
      await expect.poll(() => firstDeliveries(parseRecords(rx.lines)).length, { timeout: CHILD_WAIT_MS }).toBe(N + 1);
      const last = firstDeliveries(parseRecords(rx.lines))[N]!;
      expect(last).toMatchObject({ http: { request: { id: r.headers['x-request-id'] } }, event: { sequence: 1 } });
      expect(bootIdOf(last)).not.toBe(bootId);
      expect(verifyLines(rx.lines)).toMatchObject({ ok: true, records: N + 1, chains: 2 });

      expect((await second.child.stop('SIGTERM')).code).toBe(0);
      expect(second.child.output()).not.toContain(TOKEN);
      expect(first.child.output()).not.toContain(TOKEN);
    },
    CHILD_TEST_TIMEOUT_MS,
  );
});
