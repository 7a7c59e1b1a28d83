// The audit writer's contract, one suite for both writers: the in-thread writer (writer.ts, the
// default) and the worker-thread writer (thread.ts, audit.worker_thread: true), each built as the
// runtime builds it (createAudit). Real sinks and receivers: order and one chain over many
// event-loop turns ending with the final record, the config hash in force, a sink that cannot
// open, block mode (the gate, nothing lost), buffer mode (spool, ready, metrics, logs, closing with
// a sink down), and refused requests summed up in one record. test/audit/writers.test.ts runs it for both.
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { createAudit } from '../../src/audit/create.ts';
import { setConfigHash } from '../../src/audit/record-meaning.ts';
import { ThreadedAuditWriter } from '../../src/audit/thread.ts';
import type { AuditWriter } from '../../src/audit/writer.ts';
import { runAuditVerify } from '../../src/cli/audit-verify.ts';
import type { AuditConfig, AuditSinkConfig } from '../../src/config/types.ts';
import { Secret } from '../../src/config/secret.ts';
import { createLogger, silentLogger, type Logger } from '../../src/log.ts';
import { startHttpReceiver } from '../support/audit-receivers.ts';
import { parseRecords, readNdjson, sampleAuth, sampleRequest, sequenceOf, type AuditRecord } from '../support/audit.ts';

export const TOKEN = 'writer-contract-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-writer-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function fileSink(path: string): AuditSinkConfig {
  return { type: 'file', path, maxBytes: 100 * 1024 * 1024, maxFiles: 2, fsync: 'never' };
}

export function httpSink(url: string): AuditSinkConfig {
  return {
    type: 'http',
    url: `${url}/audit`,
    format: 'ndjson',
    token: new Secret(TOKEN),
    batchSize: 500,
    gzip: false,
    timeoutMs: 3000,
    caFile: undefined,
  };
}

/** The writer createAudit builds for `over`, closed when the test ends. */
export function openAudit(
  dir: string,
  workerThread: boolean,
  over: Partial<AuditConfig> & Pick<AuditConfig, 'sinks'>,
  log: Logger = silentLogger,
  metrics?: ReturnType<typeof createMetrics>,
): AuditWriter {
  const w = createAudit(
    {
      format: 'ecs',
      onSinkFailure: 'buffer',
      spoolDir: join(dir, 'spool'),
      queueSize: 10_000,
      spoolDrainRate: 20_000,
      chainKeyFile: undefined,
      workerThread,
      ...over,
    },
    log,
    metrics?.audit,
  );
  onTestFinished(() => w.close(500));
  return w;
}

/** A logger whose lines the test reads. */
export function capturedLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const log = createLogger('info', out);
  return {
    log,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export const pathOf = (r: AuditRecord) => r.url?.path as string | undefined;
export const actionOf = (r: AuditRecord) => r.event?.action as string;

/** Write `n` request records from `from`, `perTurn` per event-loop turn (many batches). */
export async function writeTurns(w: AuditWriter, from: number, n: number, perTurn: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    w.write(sampleRequest(i));
    if ((i - from + 1) % perTurn === 0) await new Promise((r) => setImmediate(r));
  }
}

export function auditWriterContract(workerThread: boolean): void {
  const name = workerThread ? 'worker-thread audit writer' : 'in-thread audit writer';
  const open = (
    dir: string,
    over: Partial<AuditConfig> & Pick<AuditConfig, 'sinks'>,
    log?: Logger,
    metrics?: ReturnType<typeof createMetrics>,
  ) => openAudit(dir, workerThread, over, log, metrics);

  describe(`${name}: order and chain`, () => {
    it('5,000 records over many turns and one burst arrive in order, once, as one chain that audit-verify passes, ending with the final record', async () => {
      const dir = tempDir();
      const file = join(dir, 'audit.ndjson');
      const w = open(dir, { sinks: [fileSink(file)] });
      expect(w instanceof ThreadedAuditWriter).toBe(workerThread);
      expect(w.enabled).toBe(true);
      await writeTurns(w, 1, 2000, 37);
      // A burst bigger than one batch, in a single turn.
      for (let i = 2001; i <= 3200; i++) w.write(sampleRequest(i));
      w.write(sampleAuth({ action: 'logout', reason: 'user' }));
      await writeTurns(w, 3201, 1799, 113);
      await w.close();
      const records = parseRecords(readNdjson(file));
      expect(records.map(sequenceOf)).toEqual(Array.from({ length: 5001 }, (_, i) => i + 1));
      const paths = records.map(pathOf).filter((p) => p !== undefined);
      expect(paths).toEqual(Array.from({ length: 4999 }, (_, i) => `/runs/${i + 1}`));
      expect(actionOf(records[3200]!)).toBe('logout');
      expect(actionOf(records.at(-1)!)).toBe('audit_stopped');
      const out: string[] = [];
      expect(await runAuditVerify([file], (l) => out.push(l))).toBe(0);
      expect(out.join('\n')).not.toContain('warning');
    }, 30_000);

    it('a sink that cannot open fails createAudit with its error', () => {
      const dir = tempDir();
      expect(() =>
        createAudit(
          {
            format: 'ecs',
            sinks: [fileSink('/etc/passwd/x/audit.ndjson')],
            onSinkFailure: 'buffer',
            spoolDir: join(dir, 'spool'),
            queueSize: 100,
            spoolDrainRate: 100,
            chainKeyFile: undefined,
            workerThread,
          },
          silentLogger,
        ),
      ).toThrow(/ENOTDIR/);
    });

    it('records carry the config hash in force when they were written', async () => {
      const dir = tempDir();
      const file = join(dir, 'audit.ndjson');
      onTestFinished(() => setConfigHash(undefined));
      setConfigHash('a'.repeat(16));
      const w = open(dir, { sinks: [fileSink(file)] });
      w.write(sampleRequest(1));
      setConfigHash('b'.repeat(16));
      w.write(sampleRequest(2));
      await w.flush(5000);
      w.write(sampleRequest(3));
      await w.close();
      const hashes = parseRecords(readNdjson(file)).map((r) => r.gatehouse.config?.hash);
      // The final record too: the writer keeps the last hash it was given.
      expect(hashes).toEqual(['a'.repeat(16), 'b'.repeat(16), 'b'.repeat(16), 'b'.repeat(16)]);
    }, 20_000);

    it('requests refused meanwhile are summed up in one record, written before the next record', async () => {
      const dir = tempDir();
      const file = join(dir, 'audit.ndjson');
      const w = open(dir, { sinks: [fileSink(file)] });
      w.write(sampleRequest(1));
      const t0 = Date.UTC(2026, 0, 2, 3, 4, 5);
      for (let i = 0; i < 3; i++) w.noteRefused(t0 + i * 1000);
      w.write(sampleRequest(2));
      await w.close();
      const records = parseRecords(readNdjson(file));
      expect(records.map(actionOf)).toEqual(['http_request', 'requests_refused', 'http_request', 'audit_stopped']);
      expect(records.map(sequenceOf)).toEqual([1, 2, 3, 4]);
      expect(records[1]!.gatehouse.count).toBe(3);
      expect(records[1]!.event.reason).toBe('audit_unavailable');
      expect(records[1]!.message).toContain('3 request(s) refused with 503 between 2026-01-02T03:04:05.000Z and 2026-01-02T03:04:07.000Z');
      expect(await runAuditVerify([file], () => {})).toBe(0);
    }, 20_000);
  });

  describe(`${name}: block mode`, () => {
    it('a sink that refuses: canAccept() turns false once queue_size records wait, true again after it recovers; nothing is lost', async () => {
      const dir = tempDir();
      const rx = await startHttpReceiver({ token: TOKEN });
      rx.status = 503;
      const w = open(dir, { sinks: [httpSink(rx.url)], onSinkFailure: 'block', queueSize: 10 });
      expect(w.canAccept()).toBe(true);
      let written = 0;
      while (w.canAccept() && written < 100) {
        w.write(sampleRequest(++written));
        await sleep(5);
      }
      expect(w.canAccept()).toBe(false);
      // queue_size records held. In-thread, one more when a batch happened to be in flight as it
      // was checked; the worker thread's gate is exact: its last backlog plus what was written
      // since it counted, however late its reports arrive (an integration run once let 16 through).
      expect(written).toBeGreaterThanOrEqual(10);
      expect(written).toBeLessThanOrEqual(workerThread ? 10 : 11);
      await expect.poll(() => w.ready().ok, { timeout: 5000, interval: 20 }).toBe(false);
      // Stays refused while the sink is down.
      await sleep(300);
      expect(w.canAccept()).toBe(false);
      expect(rx.lines).toEqual([]);
      rx.status = 200;
      await expect.poll(() => w.canAccept(), { timeout: 10_000, interval: 20 }).toBe(true);
      expect(await w.flush(5000)).toBe(true);
      expect(parseRecords(rx.lines).map(sequenceOf)).toEqual(Array.from({ length: written }, (_, i) => i + 1));
      expect(w.ready().ok).toBe(true);
    }, 30_000);
  });

  describe(`${name}: buffer mode, metrics and logs`, () => {
    it('a failing sink spools; ready() says so (and stays ok); the metrics and the warning are there; all is delivered when it is back', async () => {
      const dir = tempDir();
      const rx = await startHttpReceiver({ token: TOKEN });
      rx.status = 500;
      const metrics = createMetrics();
      const cap = capturedLogger();
      const file = join(dir, 'audit.ndjson');
      const w = open(dir, { sinks: [httpSink(rx.url), fileSink(file)] }, cap.log, metrics);
      const httpName = `http:${rx.url}/audit`;
      await writeTurns(w, 1, 300, 50);
      await expect
        .poll(() => w.ready().checks[`audit:${httpName}`], { timeout: 10_000, interval: 20 })
        .toMatch(/^failing \(\d+ waiting\)$/);
      expect(w.ready().ok).toBe(true);
      expect(w.canAccept()).toBe(true);
      await expect
        .poll(() => cap.lines().find((l) => l.msg === 'audit sink failed; spooling records to disk until it is back'), { timeout: 5000 })
        .toMatchObject({ level: 'warn', sink: httpName });
      rx.status = 200;
      expect(await w.flush(15_000)).toBe(true);
      expect(parseRecords(rx.lines).map(sequenceOf)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      const value = async (metric: string, sink: string) =>
        (await metrics.registry.getSingleMetric(metric)!.get()).values.find((v) => v.labels.sink === sink)?.value ?? 0;
      // flush() answers after the counts are in the registry (the worker's applied here first).
      expect(await value('gatehouse_audit_records_written_total', httpName)).toBe(300);
      expect(await value('gatehouse_audit_records_written_total', `file:${file}`)).toBe(300);
      expect(await value('gatehouse_audit_spool_writes_total', httpName)).toBeGreaterThan(0);
      expect(await value('gatehouse_audit_failures_total', httpName)).toBeGreaterThan(0);
      expect(await value('gatehouse_audit_records_queued', httpName)).toBe(0);
      expect(cap.lines().some((l) => l.msg === 'audit sink is back; delivering spooled records')).toBe(true);
      // Logs never carry record contents.
      expect(JSON.stringify(cap.lines())).not.toContain('/runs/');
    }, 30_000);

    it('close() while a sink is down closes every file the writer opened (its file, spool segments); a second close() waits for the first', async () => {
      const dir = tempDir();
      const rx = await startHttpReceiver({ token: TOKEN });
      rx.status = 500;
      const w = open(dir, { sinks: [httpSink(rx.url), fileSink(join(dir, 'audit.ndjson'))] });
      await writeTurns(w, 1, 200, 50);
      await expect.poll(() => openUnder(dir).some((f) => f.endsWith('.spool')), { timeout: 10_000, interval: 20 }).toBe(true);
      // Shutdown and a cleanup may both close: neither throws (the HTTP sink's client closes once).
      await Promise.all([w.close(1000), w.close(1000)]);
      expect(openUnder(dir)).toEqual([]);
    }, 30_000);
  });
}

/** The files under `dir` this process holds open (Linux /proc). */
function openUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // closed meanwhile
    }
  });
}
