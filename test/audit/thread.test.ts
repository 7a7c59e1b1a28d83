// The threaded audit writer (audit/thread.ts): a worker thread builds, chains and delivers the
// records; the main thread posts the facts. What both writers promise (order, chain, block and
// buffer mode, metrics, logs) is writer.contract.ts's; here, what the thread adds: records not yet
// acknowledged count against queue_size, a worker that dies, the stdout relay, and facts that
// survive the JSON hand-off exactly (the same records as the in-thread writer).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { verifyLines } from '../../src/audit/chain.ts';
import { createAudit } from '../../src/audit/create.ts';
import type { AuditFacts, AuditFormat } from '../../src/audit/record.ts';
import { toRecord } from '../../src/audit/record.ts';
import { decodeFacts, encodeFacts } from '../../src/audit/thread-wire.ts';
import { ThreadedAuditWriter } from '../../src/audit/thread.ts';
import type { AuditWriter } from '../../src/audit/writer.ts';
import { runAuditVerify } from '../../src/cli/audit-verify.ts';
import type { AuditConfig } from '../../src/config/types.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { parseRecords, readNdjson, sampleAuth, sampleRequest, sequenceOf } from '../support/audit.ts';
import { ALL_CASES } from './schema-conformance.cases.ts';
import { actionOf, capturedLogger, fileSink, openAudit, pathOf, tempDir, writeTurns } from './writer.contract.ts';

/** The contract's openAudit with the worker thread on. */
function audit(
  dir: string,
  over: Partial<AuditConfig> & Pick<AuditConfig, 'sinks'>,
  log: Logger = silentLogger,
  metrics?: ReturnType<typeof createMetrics>,
): AuditWriter {
  return openAudit(dir, true, over, log, metrics);
}

describe('threaded audit writer: block mode', () => {
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

describe('threaded audit writer: hand-off', () => {
  it('an idle writer posts at the end of the turn; under a stream of records it wakes the worker at most once per 10 ms', async () => {
    const dir = tempDir();
    const file = join(dir, 'audit.ndjson');
    const w = audit(dir, { sinks: [fileSink(file)] }) as ThreadedAuditWriter;
    w.write(sampleRequest(1));
    await new Promise((r) => setImmediate(r));
    expect(w.batchesPosted).toBe(1);
    // 30 turns of 10 records: posting every turn woke the worker 30 times.
    const started = performance.now();
    await writeTurns(w, 2, 300, 10);
    const elapsed = performance.now() - started;
    expect(w.batchesPosted - 1).toBeLessThanOrEqual(Math.ceil(elapsed / 10) + 1);
    expect(await w.flush(10_000)).toBe(true);
    await w.close();
    expect(
      parseRecords(readNdjson(file))
        .map(pathOf)
        .filter((p) => p !== undefined),
    ).toEqual(Array.from({ length: 301 }, (_, i) => `/runs/${i + 1}`));
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
