// The audit writer with real sinks and receivers: ordering and at-least-once delivery through an
// outage (spool, retry, metrics), the spool outliving the writer, block mode, the ECS and OCSF
// record shapes, and the hash chain (verifyLines, audit-verify on a rotated set).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { canonicalJson, chainHash, chainLine, verifyLines } from '../../src/audit/chain.ts';
import type { AuditFormat } from '../../src/audit/record.ts';
import type { AuditSink } from '../../src/audit/sink.ts';
import { createFileSink } from '../../src/audit/sinks/file.ts';
import { createHttpSink } from '../../src/audit/sinks/http.ts';
import { createStdoutSink } from '../../src/audit/sinks/stdout.ts';
import { createAuditWriter, type AuditWriter, type AuditWriterOptions } from '../../src/audit/writer.ts';
import { runAuditVerify } from '../../src/cli/audit-verify.ts';
import { Secret } from '../../src/config/secret.ts';
import { silentLogger } from '../../src/log.ts';
import { startHttpReceiver, type HttpAuditReceiver } from '../support/audit-receivers.ts';
import {
  bootIdOf,
  firstDeliveries,
  parseRecords,
  readNdjson,
  sampleAuth,
  sampleRequest,
  sequenceOf,
  type AuditRecord,
} from '../support/audit.ts';

const TOKEN = 'writer-test-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function hecSink(rx: HttpAuditReceiver, batchSize = 500): AuditSink {
  return createHttpSink({
    url: `${rx.url}/services/collector/event`,
    format: 'hec',
    token: new Secret(TOKEN),
    batchSize,
    gzip: true,
    timeoutMs: 3000,
    caFile: undefined,
  });
}

function writer(over: Partial<AuditWriterOptions> & Pick<AuditWriterOptions, 'sinks'>): AuditWriter {
  const w = createAuditWriter({
    format: 'ecs',
    onSinkFailure: 'buffer',
    spoolDir: tempDir('gatehouse-spool-'),
    queueSize: 10_000,
    log: silentLogger,
    ...over,
  });
  onTestFinished(() => w.close(200));
  return w;
}

/** Everything delivered is complete, once each, in order, and a valid chain. */
function expectCompleteInOrder(lines: readonly string[], n: number, bootId?: string): AuditRecord[] {
  const records = parseRecords(lines);
  const first = firstDeliveries(records);
  expect(first.map(sequenceOf)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  if (bootId) expect(new Set(first.map(bootIdOf))).toEqual(new Set([bootId]));
  // Copies (at-least-once) are exact copies of the record they repeat.
  const byKey = new Map(first.map((r) => [`${bootIdOf(r)}#${sequenceOf(r)}`, lines[records.indexOf(r)]!] as const));
  records.forEach((r, i) => expect(lines[i]).toBe(byKey.get(`${bootIdOf(r)}#${sequenceOf(r)}`)));
  const v = verifyLines(lines);
  expect(v.problems).toEqual([]);
  expect(v.ok).toBe(true);
  expect(v.records).toBe(n);
  return first;
}

async function counter(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((a, v) => a + v.value, 0);
}

describe('audit writer: delivery through an outage', () => {
  it('HEC 200 → 503 → 200 while 2000 records are written: every record arrives once (by sequence), in order, as a valid chain', async () => {
    const rx = await startHttpReceiver({ token: TOKEN });
    const metrics = createMetrics({ processMetrics: false });
    const w = writer({ sinks: [hecSink(rx, 100)], batchSize: 250, metrics: metrics.audit });
    const N = 2000;
    // 20 records every 5 ms; the receiver refuses everything from record 500 to record 1300.
    for (let i = 1; i <= N; i++) {
      if (i === 500) rx.status = 503;
      if (i === 1300) rx.status = 200;
      w.write(sampleRequest(i));
      if (i % 20 === 0) await sleep(5);
    }
    expect(await w.flush(20_000)).toBe(true);
    expect(rx.problems).toEqual([]);
    expect(rx.posts.some((p) => p.status === 503)).toBe(true);
    const first = expectCompleteInOrder(rx.lines, N);
    expect(first.map((r) => r.http.request.id)).toEqual(Array.from({ length: N }, (_, i) => `req-${i + 1}`));
    expect(await counter(metrics.audit.spooled)).toBeGreaterThan(0);
    expect(await counter(metrics.audit.retried)).toBeGreaterThan(0);
    expect(await counter(metrics.audit.failed)).toBeGreaterThan(0);
    expect(await counter(metrics.audit.written)).toBeGreaterThanOrEqual(N);
    expect(await counter(metrics.audit.queued)).toBe(0);
    expect(w.ready().ok).toBe(true);
  }, 25_000);

  it('a healthy but slow sink with a full memory queue loses nothing (records overflowing to the spool while a batch is in flight)', async () => {
    const rx = await startHttpReceiver({ token: TOKEN });
    rx.delayMs = 40;
    const w = writer({ sinks: [hecSink(rx)], queueSize: 10 });
    const N = 300;
    for (let i = 1; i <= N; i++) {
      w.write(sampleRequest(i));
      if (i % 3 === 0) await sleep(2);
    }
    expect(await w.flush(20_000)).toBe(true);
    expect(rx.posts.every((p) => p.status === 200)).toBe(true);
    expectCompleteInOrder(rx.lines, N);
  }, 25_000);

  for (const outcome of ['succeeds', 'fails'] as const) {
    it(`same, step by step: the queue overflows to the spool while a memory batch is in flight, and that batch ${outcome}: each record delivered once, in order`, async () => {
      const { sink, sent, settle, delivered } = manualSink();
      const w = writer({ sinks: [sink], queueSize: 3 });
      w.write(sampleRequest(1));
      await expect.poll(() => sent.length, { timeout: 2000, interval: 5 }).toBe(1); // [1] in flight
      w.write(sampleRequest(2));
      w.write(sampleRequest(3));
      w.write(sampleRequest(4)); // the memory queue is full
      w.write(sampleRequest(5)); // overflows: the spool starts with [1] (in flight), 2, 3, 4, 5
      w.write(sampleRequest(6)); // after the overflow, still while [1] is in flight
      settle.shift()!(outcome === 'succeeds');
      // Complete deliveries one at a time until everything is delivered (bounded).
      for (let i = 0; i < 50 && firstDeliveries(parseRecords(delivered)).length < 6; i++) {
        await expect.poll(() => settle.length, { timeout: 5000, interval: 5 }).toBeGreaterThan(0);
        settle.shift()!(true);
      }
      expect(await w.flush(2000)).toBe(true);
      expect(parseRecords(delivered).map(sequenceOf)).toEqual([1, 2, 3, 4, 5, 6]);
    });
  }

  it('the spool outlives the writer: a new writer with the same spool_dir delivers the old records first, in order', async () => {
    const rx = await startHttpReceiver({ token: TOKEN });
    const spoolDir = tempDir('gatehouse-spool-');
    rx.status = 503;
    const w1 = createAuditWriter({
      sinks: [hecSink(rx)],
      format: 'ecs',
      onSinkFailure: 'buffer',
      spoolDir,
      queueSize: 100,
      log: silentLogger,
    });
    for (let i = 1; i <= 150; i++) w1.write(sampleRequest(i));
    await expect.poll(() => readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length, { timeout: 5000 }).toBe(1);
    await w1.close(100);
    const spoolFile = join(spoolDir, readdirSync(spoolDir).find((f) => f.endsWith('.spool'))!);
    // The 150 records and the run's final record (audit_stopped, written by close).
    expect(readFileSync(spoolFile, 'utf8').split('\n').filter(Boolean)).toHaveLength(151);
    expect(rx.lines).toEqual([]);

    rx.status = 200;
    const w2 = writer({ sinks: [hecSink(rx)], spoolDir, queueSize: 100 });
    for (let i = 1; i <= 20; i++) w2.write(sampleRequest(1000 + i));
    expect(await w2.flush(10_000)).toBe(true);
    const records = firstDeliveries(parseRecords(rx.lines));
    expect(records).toHaveLength(171);
    const old = records.slice(0, 151);
    const fresh = records.slice(151);
    expect(new Set(old.map(bootIdOf)).size).toBe(1);
    expect(new Set(fresh.map(bootIdOf)).size).toBe(1);
    expect(bootIdOf(old[0]!)).not.toBe(bootIdOf(fresh[0]!));
    expect(old.map(sequenceOf)).toEqual(Array.from({ length: 151 }, (_, i) => i + 1));
    expect(old.slice(0, 150).map((r) => r.http.request.id)).toEqual(Array.from({ length: 150 }, (_, i) => `req-${i + 1}`));
    expect(old[150]!.event.action).toBe('audit_stopped');
    expect(fresh.map(sequenceOf)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(fresh.map((r) => r.http.request.id)).toEqual(Array.from({ length: 20 }, (_, i) => `req-${1001 + i}`));
    // The second run's first record links to the first run's final record (chain-head.ts).
    expect(fresh[0]!.gatehouse.chain.prev_hash).toBe(old[150]!.gatehouse.chain.hash);
    const v = verifyLines(rx.lines);
    expect(v).toMatchObject({ ok: true, records: 171, chains: 2, problems: [] });
    expect(v.warnings).toEqual([expect.stringMatching(/last run has no final record/)]);
    // Delivered: the spool is gone.
    await expect.poll(() => readdirSync(spoolDir).filter((f) => f.endsWith('.spool')), { timeout: 5000 }).toEqual([]);
  }, 20_000);
});

describe('audit writer: one spool per sink', () => {
  it('two sinks whose names differ only in characters the spool file name replaces ("/a/b" vs "/a_b") do not share a spool', async () => {
    const rx = await startHttpReceiver({ token: TOKEN });
    const spoolDir = tempDir('gatehouse-spool-');
    const sinks = () =>
      ['/a/b', '/a_b'].map((p) =>
        createHttpSink({
          url: `${rx.url}${p}`,
          format: 'ndjson',
          token: new Secret(TOKEN),
          batchSize: 500,
          gzip: true,
          timeoutMs: 3000,
          caFile: undefined,
        }),
      );
    const make = () =>
      createAuditWriter({ sinks: sinks(), format: 'ecs', onSinkFailure: 'buffer', spoolDir, queueSize: 100, log: silentLogger });
    const spooled = () =>
      readdirSync(spoolDir)
        .filter((f) => f.endsWith('.spool'))
        .reduce((n, f) => n + readFileSync(join(spoolDir, f), 'utf8').split('\n').filter(Boolean).length, 0);

    // Run 1: both sinks down; 5 records spooled for each.
    rx.status = 503;
    const w1 = make();
    for (let i = 1; i <= 5; i++) w1.write(sampleRequest(i));
    await expect.poll(spooled, { timeout: 5000 }).toBe(10);
    await w1.close(100);

    // Run 2: only /a/b is back; it gets its records. /a_b is still down.
    rx.statusFor = (p) => (p === '/a/b' ? 200 : 503);
    const w2 = make();
    // Run 1's five records and its final record.
    await expect.poll(() => firstDeliveries(parseRecords(rx.linesByPath.get('/a/b') ?? [])).length, { timeout: 5000 }).toBe(6);
    await sleep(100);
    await w2.close(100);

    // Run 3: /a_b is back too: its 5 records must still be waiting for it.
    rx.statusFor = undefined;
    rx.status = 200;
    const w3 = writer({ sinks: sinks(), spoolDir, queueSize: 100 });
    await w3.flush(5000);
    await sleep(100);
    for (const p of ['/a/b', '/a_b']) {
      // Run 1's records and final record, then run 2's final record (it wrote nothing else).
      const got = firstDeliveries(parseRecords(rx.linesByPath.get(p) ?? []));
      expect(got.map(sequenceOf), p).toEqual([1, 2, 3, 4, 5, 6, 1]);
      expect(
        got.map((r) => r.event.action),
        p,
      ).toEqual([...Array(5).fill('http_request'), 'audit_stopped', 'audit_stopped']);
    }
  }, 20_000);
});

/** A sink whose deliveries the test settles by hand: exact interleavings, no timing. */
function manualSink(): { sink: AuditSink; sent: string[][]; settle: ((ok: boolean) => void)[]; delivered: string[] } {
  const sent: string[][] = [];
  const settle: ((ok: boolean) => void)[] = [];
  const delivered: string[] = [];
  const sink: AuditSink = {
    name: 'manual',
    remote: true,
    send(lines) {
      sent.push([...lines]);
      return new Promise<void>((resolve, reject) =>
        settle.push((ok) => {
          if (!ok) return reject(new Error('sink down'));
          delivered.push(...lines);
          resolve();
        }),
      );
    },
    ready: () => true,
    close: async () => {},
  };
  return { sink, sent, settle, delivered };
}

describe('audit writer: block mode bound', () => {
  it('records in flight count against queue_size: the gate stays shut while a batch (or a retry) is in flight', async () => {
    const m = manualSink();
    const w = writer({ sinks: [m.sink], onSinkFailure: 'block', queueSize: 10 });
    for (let i = 1; i <= 10; i++) w.write(sampleRequest(i));
    expect(w.canAccept()).toBe(false);
    // Delivery starts after the current burst (records travel in batches).
    await expect.poll(() => m.sent.length, { timeout: 1000, interval: 5 }).toBe(1);
    // 10 records in memory, in flight or queued.
    expect(w.canAccept()).toBe(false);
    m.settle.shift()!(false); // the sink is down
    await sleep(5);
    expect(w.canAccept()).toBe(false);
    // The retry (after backoff) takes everything in flight: still 10 records held, still full.
    await expect.poll(() => m.sent.length, { timeout: 3000, interval: 5 }).toBe(2);
    expect(w.canAccept()).toBe(false);
    m.settle.shift()!(true);
    await expect.poll(() => w.canAccept(), { timeout: 1000 }).toBe(true);
    for (let i = 0; i < 10 && m.settle.length > 0; i++) {
      m.settle.shift()!(true);
      await sleep(5);
    }
    expect(await w.flush(1000)).toBe(true);
    expect(firstDeliveries(parseRecords(m.delivered)).map(sequenceOf)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

function capture(format: AuditFormat): { w: AuditWriter; records(): AuditRecord[]; lines(): string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  const w = writer({ sinks: [createStdoutSink(stream)], format });
  const lines = () => text.split('\n').filter((l) => l !== '');
  return { w, lines, records: () => parseRecords(lines()) };
}

describe('audit record shapes', () => {
  const facts = [
    sampleRequest(1, { queryKeys: ['token', 'x'], status: 200 }),
    sampleRequest(2, {
      status: 403,
      decision: 'deny',
      reason: 'no-group',
      rule: 'admin/4f1c2a9e0b7d',
      route: 'admin',
      path: '/admin/x',
      method: 'POST',
    }),
    sampleAuth({ action: 'login_succeeded' }),
    sampleAuth({ action: 'logout', reason: 'user', requestId: undefined }),
    sampleRequest(5, { websocket: true, status: 101, bytesIn: 10, bytesOut: 20 }),
  ];

  it('ECS: @timestamp, event.sequence, http.response.status_code, url.path, source.ip, user_agent.original', async () => {
    const c = capture('ecs');
    for (const f of facts) c.w.write(f);
    expect(await c.w.flush(5000)).toBe(true);
    const [r1, r2, a1, a2, ws] = c.records() as [AuditRecord, AuditRecord, AuditRecord, AuditRecord, AuditRecord];
    expect(r1).toMatchObject({
      '@timestamp': new Date(facts[0]!.time).toISOString(),
      ecs: { version: expect.any(String) },
      event: { kind: 'event', action: 'http_request', dataset: 'gatehouse.access', outcome: 'success', sequence: 1, duration: 12_500_000 },
      http: { request: { id: 'req-1', method: 'GET', bytes: 120 }, response: { status_code: 200, bytes: 3400 } },
      url: { domain: 'ml.corp.example', path: '/runs/1' },
      source: { ip: '10.1.2.3' },
      user_agent: { original: 'test-agent/1.0' },
      user: { name: 'alice@example.com', email: 'alice@example.com', domain: 'corp', group: { name: ['ml-admins'] } },
      gatehouse: {
        route: 'app',
        decision: 'allow',
        query_keys: ['token', 'x'],
        auth_method: 'session',
        idp: 'corp',
        session: 'a'.repeat(64),
      },
    });
    expect(r1.event.type).toContain('allowed');
    expect(r2).toMatchObject({
      event: { sequence: 2, outcome: 'failure', reason: 'no-group' },
      http: { response: { status_code: 403 }, request: { method: 'POST' } },
      gatehouse: { decision: 'deny', rule: 'admin/4f1c2a9e0b7d', route: 'admin' },
    });
    expect(r2.event.type).toContain('denied');
    expect(a1).toMatchObject({
      '@timestamp': expect.any(String),
      event: { action: 'login_succeeded', dataset: 'gatehouse.auth', outcome: 'success', sequence: 3 },
      http: { request: { id: 'req-auth' } },
      user: { name: 'alice@example.com' },
      source: { ip: '10.1.2.3' },
    });
    expect(a2).toMatchObject({ event: { action: 'logout', reason: 'user', sequence: 4, type: ['end'] } });
    expect(a2.http).toBeUndefined();
    expect(ws).toMatchObject({
      event: { action: 'websocket_session', sequence: 5 },
      http: { request: { bytes: 10 }, response: { status_code: 101, bytes: 20 } },
    });
    expect(new Set(c.records().map(bootIdOf)).size).toBe(1);
    expect(verifyLines(c.lines())).toMatchObject({ ok: true, records: 5, chains: 1 });
  });

  it('OCSF: class_uid 4002 for requests, 3002 for auth events', async () => {
    const c = capture('ocsf');
    for (const f of facts) c.w.write(f);
    expect(await c.w.flush(5000)).toBe(true);
    const [r1, r2, a1, a2, ws] = c.records() as [AuditRecord, AuditRecord, AuditRecord, AuditRecord, AuditRecord];
    expect(r1).toMatchObject({
      class_uid: 4002,
      class_name: 'HTTP Activity',
      category_uid: 4,
      activity_id: 3,
      type_uid: 400203,
      time: facts[0]!.time,
      status_id: 1,
      http_request: {
        uid: 'req-1',
        http_method: 'GET',
        url: { hostname: 'ml.corp.example', path: '/runs/1' },
        user_agent: 'test-agent/1.0',
        length: 120,
      },
      http_response: { code: 200, length: 3400 },
      src_endpoint: { ip: '10.1.2.3' },
      actor: { user: { name: 'alice@example.com', email_addr: 'alice@example.com', groups: [{ name: 'ml-admins' }] } },
      metadata: { sequence: 1, uid: `${bootIdOf(r1)}:1`, product: { name: 'Gatehouse' } },
      unmapped: { route: 'app', decision: 'allow', query_keys: ['token', 'x'] },
    });
    expect(r2).toMatchObject({
      class_uid: 4002,
      activity_id: 6,
      status_id: 2,
      disposition_id: 2,
      http_response: { code: 403 },
      metadata: { sequence: 2 },
    });
    expect(a1).toMatchObject({
      class_uid: 3002,
      class_name: 'Authentication',
      category_uid: 3,
      activity_id: 1,
      type_uid: 300201,
      metadata: { sequence: 3 },
      unmapped: { action: 'login_succeeded', idp: 'corp' },
      session: { uid: 'b'.repeat(64) },
    });
    expect(a2).toMatchObject({
      class_uid: 3002,
      activity_id: 2,
      status_detail: 'user',
      metadata: { sequence: 4 },
      unmapped: { action: 'logout' },
    });
    expect(ws).toMatchObject({ class_uid: 4002, http_response: { code: 101 }, unmapped: { websocket: true }, metadata: { sequence: 5 } });
    // No ECS fields leak into OCSF records.
    for (const r of c.records()) {
      expect(r['@timestamp']).toBeUndefined();
      expect(r.event).toBeUndefined();
    }
    expect(verifyLines(c.lines())).toMatchObject({ ok: true, records: 5, chains: 1 });
  });
});

describe('hash chain', () => {
  function chain(n: number): string[] {
    const lines: string[] = [];
    let prev = '';
    for (let i = 1; i <= n; i++) {
      const { line, hash } = chainLine({ event: { sequence: i }, http: { response: { status_code: 200 } }, message: `r${i}` }, prev);
      lines.push(line);
      prev = hash;
    }
    return lines;
  }

  it('canonicalJson sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[3,{"z":1}]},"b":1}',
    );
    expect(canonicalJson([undefined, null])).toBe('[null,null]');
  });

  it('an intact chain verifies; the hash covers the previous hash and the canonical record', () => {
    const lines = chain(10);
    expect(verifyLines(lines)).toEqual({ ok: true, records: 10, chains: 1, problems: [], warnings: [] });
    const second = JSON.parse(lines[1]!) as AuditRecord;
    const { hash, ...rest } = second;
    expect(hash).toBe(chainHash(JSON.parse(lines[0]!).hash, canonicalJson(rest)));
  });

  it('detects an edited line', () => {
    const lines = chain(10);
    lines[4] = lines[4]!.replace('"status_code":200', '"status_code":201');
    const v = verifyLines(lines);
    expect(v.ok).toBe(false);
    expect(v.problems.join('\n')).toMatch(/line 5: .*edited/);
  });

  it('detects an edited line whose hash was recomputed (the next line no longer follows)', () => {
    const lines = chain(10);
    const rec = JSON.parse(lines[4]!) as AuditRecord;
    rec.message = 'forged';
    const { hash: _old, ...rest } = rec;
    void _old;
    lines[4] = chainLine({ ...rest, prev_hash: undefined }, rec.prev_hash as string).line;
    const v = verifyLines(lines);
    expect(v.ok).toBe(false);
    expect(v.problems.join('\n')).toMatch(/line 6: /);
  });

  it('detects a deleted line', () => {
    const lines = chain(10);
    lines.splice(3, 1);
    const v = verifyLines(lines);
    expect(v.ok).toBe(false);
    expect(v.problems.join('\n')).toMatch(/line 4: .*deleted/);
  });

  it('detects a swapped pair', () => {
    const lines = chain(10);
    [lines[3], lines[4]] = [lines[4]!, lines[3]!];
    expect(verifyLines(lines).ok).toBe(false);
  });

  it('accepts an exact duplicate line (at-least-once delivery)', () => {
    const lines = chain(10);
    lines.splice(5, 0, lines[4]!);
    lines.push(lines[2]!);
    expect(verifyLines(lines)).toEqual({ ok: true, records: 10, chains: 1, problems: [], warnings: [] });
  });

  it("detects an inserted line that reuses an earlier record's hash with different content", () => {
    // Only an *exact* repeat may be skipped: a line carrying a seen hash but other content is forged.
    const lines = chain(10);
    const forged = lines[2]!.replace('"message":"r3"', '"message":"forged"');
    expect(forged).not.toBe(lines[2]);
    lines.splice(6, 0, forged);
    const v = verifyLines(lines);
    expect(v.ok).toBe(false);
  });

  it('detects a line that is not JSON', () => {
    const lines = chain(5);
    lines.splice(2, 0, 'garbage');
    expect(verifyLines(lines).problems.join('\n')).toMatch(/line 3: not JSON/);
  });

  it('runAuditVerify: a rotated set (oldest first) is intact (0), a tampered file is not (1)', async () => {
    const dir = tempDir('gatehouse-verify-');
    const path = join(dir, 'audit.ndjson');
    const w = writer({ sinks: [createFileSink({ path, maxBytes: 4096, maxFiles: 50, fsync: 'never' })], batchSize: 5 });
    for (let i = 1; i <= 120; i++) {
      w.write(sampleRequest(i));
      if (i % 5 === 0) await sleep(1);
    }
    expect(await w.flush(5000)).toBe(true);
    const rotated = readdirSync(dir)
      .filter((f) => /\.\d+$/.test(f))
      .map((f) => Number(f.split('.').pop()))
      .sort((a, b) => b - a);
    expect(rotated.length).toBeGreaterThanOrEqual(3);
    const files = [...rotated.map((n) => `${path}.${n}`), path];
    expect(files.flatMap(readNdjson)).toHaveLength(120);
    const out: string[] = [];
    expect(await runAuditVerify(files, (l) => out.push(l))).toBe(0);
    expect(out[0]).toContain('120 records in 1 chain');
    expect(out[0]).toContain('OK');
    // A single rotated file on its own starts mid-chain: still fine.
    expect(await runAuditVerify([files[1]!], () => {})).toBe(0);
    // Newest first is not the order they were written in.
    expect(await runAuditVerify([...files].reverse(), () => {})).toBe(1);
    // Tamper with one record in a rotated file.
    const victim = files[1]!;
    const text = readFileSync(victim, 'utf8');
    writeFileSync(victim, text.replace(/"status_code":200/, '"status_code":500'));
    const out2: string[] = [];
    expect(await runAuditVerify(files, (l) => out2.push(l))).toBe(1);
    expect(out2.join('\n')).toMatch(/BROKEN/);
    expect(out2.join('\n')).toMatch(/edited/);
    expect(await runAuditVerify([], () => {})).toBe(2);
  });
});
