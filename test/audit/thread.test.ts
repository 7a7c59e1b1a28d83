// The threaded audit writer (audit/thread.ts): a worker thread builds, chains and delivers the
// records; the main thread posts the facts. Real worker, real sinks and receivers: order and a
// valid chain over many batches, canAccept()/ready() mirrored from the worker, metrics and logs
// forwarded, the final record, a worker that dies, the stdout relay, and facts that survive the
// JSON hand-off exactly (the same records as the in-thread writer).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { verifyLines } from '../../src/audit/chain.ts';
import { createAudit } from '../../src/audit/create.ts';
import type { AuditFacts, AuditFormat } from '../../src/audit/record.ts';
import { toRecord } from '../../src/audit/record.ts';
import { setConfigHash } from '../../src/audit/record-meaning.ts';
import { decodeFacts, encodeFacts } from '../../src/audit/thread-wire.ts';
import { ThreadedAuditWriter } from '../../src/audit/thread.ts';
import type { AuditWriter } from '../../src/audit/writer.ts';
import { runAuditVerify } from '../../src/cli/audit-verify.ts';
import type { AuditConfig, AuditSinkConfig } from '../../src/config/types.ts';
import { Secret } from '../../src/config/secret.ts';
import { createLogger, silentLogger, type Logger } from '../../src/log.ts';
import { startHttpReceiver } from '../support/audit-receivers.ts';
import { parseRecords, readNdjson, sampleAuth, sampleRequest, sequenceOf, type AuditRecord } from '../support/audit.ts';
import { ALL_CASES } from './schema-conformance.cases.ts';

const TOKEN = 'thread-test-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-thread-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fileSink(path: string): AuditSinkConfig {
  return { type: 'file', path, maxBytes: 100 * 1024 * 1024, maxFiles: 2, fsync: 'never' };
}

function httpSink(url: string): AuditSinkConfig {
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

function audit(
  dir: string,
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
      workerThread: true,
      ...over,
    },
    log,
    metrics?.audit,
  );
  onTestFinished(() => w.close(500));
  return w;
}

/** A logger whose lines the test reads. */
function capturedLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
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

const pathOf = (r: AuditRecord) => r.url?.path as string | undefined;
const actionOf = (r: AuditRecord) => r.event?.action as string;

/** Write `n` request records from `from`, `perTurn` per event-loop turn (many batches). */
async function writeTurns(w: AuditWriter, from: number, n: number, perTurn: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    w.write(sampleRequest(i));
    if ((i - from + 1) % perTurn === 0) await new Promise((r) => setImmediate(r));
  }
}

describe('threaded audit writer: order and chain', () => {
  it('createAudit gives the threaded writer; 5,000 records over many batches arrive in order, once, as one chain that audit-verify passes, ending with the final record', async () => {
    const dir = tempDir();
    const file = join(dir, 'audit.ndjson');
    const w = audit(dir, { sinks: [fileSink(file)] });
    expect(w).toBeInstanceOf(ThreadedAuditWriter);
    expect(w.enabled).toBe(true);
    await writeTurns(w, 1, 2000, 37);
    // A burst bigger than one batch, in a single turn.
    for (let i = 2001; i <= 3200; i++) w.write(sampleRequest(i));
    w.write(sampleAuth({ action: 'logout', reason: 'user' }));
    await writeTurns(w, 3201, 1799, 113);
    await w.close();
    const lines = readNdjson(file);
    const records = parseRecords(lines);
    expect(records.map(sequenceOf)).toEqual(Array.from({ length: 5001 }, (_, i) => i + 1));
    const paths = records.map(pathOf).filter((p) => p !== undefined);
    expect(paths).toEqual(Array.from({ length: 4999 }, (_, i) => `/runs/${i + 1}`));
    expect(actionOf(records[3200]!)).toBe('logout');
    expect(actionOf(records.at(-1)!)).toBe('audit_stopped');
    const out: string[] = [];
    expect(await runAuditVerify([file], (l) => out.push(l))).toBe(0);
    expect(out.join('\n')).not.toContain('warning');
  }, 30_000);

  it('a sink that cannot open fails createAudit with its error, as in-thread', () => {
    const dir = tempDir();
    const bad = fileSink('/etc/passwd/x/audit.ndjson');
    const open = (workerThread: boolean) => () =>
      createAudit(
        {
          format: 'ecs',
          sinks: [bad],
          onSinkFailure: 'buffer',
          spoolDir: join(dir, 'spool'),
          queueSize: 100,
          spoolDrainRate: 100,
          chainKeyFile: undefined,
          workerThread,
        },
        silentLogger,
      );
    expect(open(false)).toThrow(/ENOTDIR/);
    expect(open(true)).toThrow(/ENOTDIR/);
  });

  it('records carry the config hash in force when they were written (set in the main thread)', async () => {
    const dir = tempDir();
    const file = join(dir, 'audit.ndjson');
    onTestFinished(() => setConfigHash(undefined));
    setConfigHash('a'.repeat(16));
    const w = audit(dir, { sinks: [fileSink(file)] });
    w.write(sampleRequest(1));
    setConfigHash('b'.repeat(16));
    w.write(sampleRequest(2));
    await w.flush(5000);
    w.write(sampleRequest(3));
    await w.close();
    const hashes = parseRecords(readNdjson(file)).map((r) => r.gatehouse.config?.hash);
    // The final record too: the worker keeps the last hash it was given.
    expect(hashes).toEqual(['a'.repeat(16), 'b'.repeat(16), 'b'.repeat(16), 'b'.repeat(16)]);
  }, 20_000);
});

describe('threaded audit writer: block mode', () => {
  it('a sink that refuses: canAccept() turns false once queue_size records wait, true again after it recovers; nothing is lost', async () => {
    const dir = tempDir();
    const rx = await startHttpReceiver({ token: TOKEN });
    rx.status = 503;
    const w = audit(dir, { sinks: [httpSink(rx.url)], onSinkFailure: 'block', queueSize: 10 });
    expect(w.canAccept()).toBe(true);
    let written = 0;
    while (w.canAccept() && written < 100) {
      w.write(sampleRequest(++written));
      await sleep(5);
    }
    expect(w.canAccept()).toBe(false);
    // Exactly queue_size, as in-thread: the worker's last backlog plus what was written since it
    // counted, however late its reports arrive (an integration run let 16 through before).
    expect(written).toBe(10);
    await expect.poll(() => w.ready().ok, { timeout: 5000, interval: 20 }).toBe(false);
    await sleep(300);
    expect(w.canAccept()).toBe(false);
    expect(rx.lines).toEqual([]);
    rx.status = 200;
    await expect.poll(() => w.canAccept(), { timeout: 10_000, interval: 20 }).toBe(true);
    expect(await w.flush(5000)).toBe(true);
    expect(parseRecords(rx.lines).map(sequenceOf)).toEqual(Array.from({ length: written }, (_, i) => i + 1));
    expect(w.ready().ok).toBe(true);
  }, 30_000);

  it('the main thread counts records the worker has not acknowledged against queue_size', () => {
    const dir = tempDir();
    const w = audit(dir, { sinks: [fileSink(join(dir, 'audit.ndjson'))], onSinkFailure: 'block', queueSize: 10 });
    for (let i = 1; i <= 9; i++) w.write(sampleRequest(i));
    expect(w.canAccept()).toBe(true);
    w.write(sampleRequest(10));
    // Nothing could have been acknowledged yet: these lines have not even left this thread.
    expect(w.canAccept()).toBe(false);
  });
});

describe('threaded audit writer: buffer mode, metrics and logs', () => {
  it('a failing sink spools; ready() says so (and stays ok); the metrics and the warning reach the main thread; all is delivered when it is back', async () => {
    const dir = tempDir();
    const rx = await startHttpReceiver({ token: TOKEN });
    rx.status = 500;
    const metrics = createMetrics();
    const cap = capturedLogger();
    const file = join(dir, 'audit.ndjson');
    const w = audit(dir, { sinks: [httpSink(rx.url), fileSink(file)] }, cap.log, metrics);
    const httpName = `http:${rx.url}/audit`;
    await writeTurns(w, 1, 300, 50);
    await expect.poll(() => w.ready().checks[`audit:${httpName}`], { timeout: 10_000, interval: 20 }).toMatch(/^failing \(\d+ waiting\)$/);
    expect(w.ready().ok).toBe(true);
    expect(w.canAccept()).toBe(true);
    await expect
      .poll(() => cap.lines().find((l) => l.msg === 'audit sink failed; spooling records to disk until it is back'), { timeout: 5000 })
      .toMatchObject({ level: 'warn', sink: httpName });
    rx.status = 200;
    expect(await w.flush(15_000)).toBe(true);
    expect(parseRecords(rx.lines).map(sequenceOf)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const value = async (name: string, sink: string) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.sink === sink)?.value ?? 0;
    // flush() answers after the worker's counts are applied here.
    expect(await value('gatehouse_audit_records_written_total', httpName)).toBe(300);
    expect(await value('gatehouse_audit_records_written_total', `file:${file}`)).toBe(300);
    expect(await value('gatehouse_audit_spool_writes_total', httpName)).toBeGreaterThan(0);
    expect(await value('gatehouse_audit_failures_total', httpName)).toBeGreaterThan(0);
    expect(await value('gatehouse_audit_records_queued', httpName)).toBe(0);
    expect(cap.lines().some((l) => l.msg === 'audit sink is back; delivering spooled records')).toBe(true);
    // Logs never carry record contents.
    expect(JSON.stringify(cap.lines())).not.toContain('/runs/');
  }, 30_000);
});

describe('threaded audit writer: a worker that dies', () => {
  it('exits before reading the next batches: a new worker gets them; every record is in the file exactly once, in order, and audit-verify passes', async () => {
    const dir = tempDir();
    const file = join(dir, 'audit.ndjson');
    const cap = capturedLogger();
    const w = audit(dir, { sinks: [fileSink(file)] }, cap.log) as ThreadedAuditWriter;
    await writeTurns(w, 1, 400, 50);
    expect(await w.flush(5000)).toBe(true);
    w.simulateCrash('exit');
    await writeTurns(w, 401, 600, 50);
    expect(await w.flush(20_000)).toBe(true);
    await w.close();
    const records = parseRecords(readNdjson(file));
    expect(records.map(pathOf).filter((p) => p !== undefined)).toEqual(Array.from({ length: 1000 }, (_, i) => `/runs/${i + 1}`));
    // Two runs: the dead worker's (no final record) and its successor's, linked to the saved head.
    expect(new Set(records.map((r) => r.gatehouse.boot_id)).size).toBe(2);
    expect(actionOf(records.at(-1)!)).toBe('audit_stopped');
    expect(await runAuditVerify([file], () => {})).toBe(0);
    expect(
      cap.lines().find((l) => l.msg === 'audit worker stopped unexpectedly; a new one gets the records it had not acknowledged'),
    ).toMatchObject({
      level: 'error',
      exit_code: 70,
    });
  }, 30_000);

  it('terminated mid-stream: records keep their order; those written before it and after the new worker took over are there exactly once', async () => {
    const dir = tempDir();
    const file = join(dir, 'audit.ndjson');
    const w = audit(dir, { sinks: [fileSink(file)] }) as ThreadedAuditWriter;
    await writeTurns(w, 1, 300, 50);
    expect(await w.flush(5000)).toBe(true);
    // B: posted while the worker is being terminated; each was either taken (and maybe lost with
    // the worker's memory, as in a crash of the process) or not acknowledged (sent again).
    await writeTurns(w, 301, 200, 50);
    w.simulateCrash('terminate');
    await writeTurns(w, 501, 200, 50);
    expect(await w.flush(20_000)).toBe(true);
    w.write(sampleRequest(701));
    await w.close();
    const paths = parseRecords(readNdjson(file))
      .map(pathOf)
      .filter((p) => p !== undefined)
      .map((p) => Number(p.slice('/runs/'.length)));
    const first = [...new Set(paths)];
    // First deliveries in write order.
    expect(first).toEqual([...first].sort((a, b) => a - b));
    const count = (n: number) => paths.filter((p) => p === n).length;
    for (let n = 1; n <= 300; n++) expect(count(n)).toBe(1);
    for (let n = 501; n <= 701; n++) expect(count(n)).toBe(1);
    for (let n = 301; n <= 500; n++) expect(count(n)).toBeLessThanOrEqual(2);
  }, 30_000);
});

describe('threaded audit writer: stdout', () => {
  it('records reach the main thread stdout in order, the final one included, before close() returns', async () => {
    const dir = tempDir();
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const w = new ThreadedAuditWriter({
      audit: {
        format: 'ocsf',
        sinks: [{ type: 'stdout' }],
        onSinkFailure: 'buffer',
        spoolDir: join(dir, 'spool'),
        queueSize: 10_000,
        spoolDrainRate: 20_000,
        chainKeyFile: undefined,
        workerThread: true,
      },
      chainKey: undefined,
      log: silentLogger,
      stdout: out,
    });
    await writeTurns(w, 1, 1500, 100);
    await w.close();
    const lines = text.trimEnd().split('\n');
    const records = parseRecords(lines);
    expect(records.map(sequenceOf)).toEqual(Array.from({ length: 1501 }, (_, i) => i + 1));
    expect(records.at(-1)!.unmapped.action).toBe('audit_stopped');
    expect(verifyLines(lines).ok).toBe(true);
  }, 30_000);
});

// ---- the hand-off: facts → JSON line → facts builds the same record ----

/** Facts the request side could produce, including the awkward ones JSON does not carry as is. */
function corpus(): AuditFacts[] {
  const base = sampleRequest(7);
  return [
    ...ALL_CASES.map(([, f]) => f),
    sampleRequest(1),
    sampleAuth(),
    sampleRequest(2, { durationMs: Number.NaN }),
    sampleRequest(3, { durationMs: Number.POSITIVE_INFINITY, bytesIn: Number.NEGATIVE_INFINITY }),
    sampleRequest(4, { durationMs: -0, bytesOut: -0 }),
    sampleRequest(5, { path: '/null/"$gh_num"/null', queryKeys: ['null', '$gh_num', '{"$gh_num":"NaN"}'] }),
    sampleRequest(6, { userAgent: 'line\nbreak \u2028 \ud800 lone surrogate \u0000' }),
    // Missing vs undefined keys: the builders read both as undefined.
    { ...base, proxied: undefined, scheme: undefined, port: undefined, token: undefined },
    Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as unknown as AuditFacts,
    sampleAuth({ action: 'requests_refused', count: 3, message: 'null' }),
  ];
}

function recordText(f: AuditFacts, format: AuditFormat): string {
  try {
    return JSON.stringify(toRecord(f, { sequence: 9, bootId: 'boot', keyed: false }, format, 'f'.repeat(64)));
  } catch (err) {
    return `throws ${(err as Error).message}`;
  }
}

describe('threaded audit writer: the JSON hand-off', () => {
  it('every fact in the corpus builds the same record, in both formats, after encodeFacts → decodeFacts', () => {
    for (const f of corpus()) {
      for (const format of ['ecs', 'ocsf'] as const) expect(recordText(decodeFacts(encodeFacts(f)), format)).toBe(recordText(f, format));
    }
  });

  it('plain JSON would not do: NaN would build a different record', () => {
    const f = sampleRequest(2, { durationMs: Number.NaN });
    expect(recordText(JSON.parse(JSON.stringify(f)) as AuditFacts, 'ecs')).not.toBe(recordText(f, 'ecs'));
    expect(encodeFacts(sampleRequest(1))).toBe(JSON.stringify(sampleRequest(1)));
  });

  it('the threaded and the in-thread writer write the same records for the corpus (boot id and hashes aside)', async () => {
    const dir = tempDir();
    const files = { thread: join(dir, 'thread.ndjson'), inline: join(dir, 'inline.ndjson') };
    for (const format of ['ecs', 'ocsf'] as const) {
      for (const [name, workerThread] of [
        ['thread', true],
        ['inline', false],
      ] as const) {
        const w = createAudit(
          {
            format,
            sinks: [fileSink(files[name])],
            onSinkFailure: 'buffer',
            spoolDir: join(dir, `spool-${name}-${format}`),
            queueSize: 10_000,
            spoolDrainRate: 20_000,
            chainKeyFile: undefined,
            workerThread,
          },
          silentLogger,
        );
        expect(w instanceof ThreadedAuditWriter).toBe(workerThread);
        for (const f of corpus()) {
          // Records whose builder throws are not written by either (in-thread the caller sees the error).
          if (recordText(f, format).startsWith('throws')) continue;
          w.write(f);
        }
        await w.close();
      }
    }
    const normalised = (file: string) => {
      const lines = readNdjson(file);
      const boots = new Set(parseRecords(lines).map((r) => (r.gatehouse?.boot_id ?? r.unmapped?.boot_id) as string));
      // The final records carry the time of close.
      return lines
        .filter((l) => !l.includes('audit_stopped') && !l.includes('audit trail closed'))
        .map((l) => [...boots].reduce((t, b) => t.replaceAll(b, 'BOOT'), l).replace(/[0-9a-f]{64}/g, 'HASH'));
    };
    const thread = normalised(files.thread);
    expect(thread.length).toBeGreaterThan(2 * ALL_CASES.length);
    expect(thread).toEqual(normalised(files.inline));
  }, 30_000);
});
