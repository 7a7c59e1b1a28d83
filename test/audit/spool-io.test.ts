// Issue 12, audit item 3, without a clock: the spool's I/O stays off the request path. A record
// written while the sink is down is not written to disk on the caller's turn (it used to be an
// appendFileSync per request), and delivering from a large spool never rewrites what is left (it
// used to rewrite the whole remaining file every 1,000 records and after any failed batch).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AuditSink } from '../../src/audit/sink.ts';
import { openSpool } from '../../src/audit/spool.ts';
import { createAuditWriter } from '../../src/audit/writer.ts';
import { silentLogger } from '../../src/log.ts';
import { firstDeliveries, parseRecords, sampleRequest, sequenceOf } from '../support/audit.ts';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-spool-io-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A sink that is down until `up` is set; it records what it took. */
function switchSink(): { sink: AuditSink; delivered: string[]; up: boolean } {
  const state = { delivered: [] as string[], up: false, sink: undefined as unknown as AuditSink };
  state.sink = {
    name: 'http:http://siem.test/ingest',
    remote: true,
    async send(lines) {
      if (!state.up) throw new Error('sink down');
      state.delivered.push(...lines);
    },
    ready: () => state.up,
    close: async () => {},
  };
  return state;
}

const spoolFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.spool'))
    .sort();
const spoolBytes = (dir: string) => spoolFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
const spoolLines = (dir: string) =>
  spoolFiles(dir).reduce((n, f) => n + readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0);

describe('issue 12: spool I/O off the request path', () => {
  it('with the sink down, write() returns before its record touches the disk; it lands there right after', async () => {
    const dir = tempDir();
    const s = switchSink();
    const w = createAuditWriter({
      sinks: [s.sink],
      format: 'ecs',
      onSinkFailure: 'buffer',
      spoolDir: dir,
      queueSize: 100,
      log: silentLogger,
    });
    onTestFinished(() => w.close(100));
    w.write(sampleRequest(1));
    // The first failure puts the channel in spool mode.
    await expect.poll(() => spoolLines(dir), { timeout: 5000, interval: 10 }).toBe(1);
    const before = spoolBytes(dir);
    for (let i = 2; i <= 50; i++) w.write(sampleRequest(i));
    expect(spoolBytes(dir)).toBe(before);
    await expect.poll(() => spoolLines(dir), { timeout: 5000, interval: 10 }).toBe(50);
  });

  it('delivering from a large spool never rewrites the rest: the file keeps its inode and bytes until it is deleted whole', async () => {
    const dir = tempDir();
    const s = switchSink();
    const w1 = createAuditWriter({
      sinks: [s.sink],
      format: 'ecs',
      onSinkFailure: 'buffer',
      spoolDir: dir,
      queueSize: 100,
      log: silentLogger,
    });
    for (let i = 1; i <= 3000; i++) w1.write(sampleRequest(i));
    await expect.poll(() => spoolLines(dir), { timeout: 10_000, interval: 20 }).toBe(3000);
    await w1.close(100);
    const files = spoolFiles(dir);
    const before = new Map(files.map((f) => [f, statSync(join(dir, f))] as const));

    // The sink comes back and takes batches one at a time; after each, no file was rewritten.
    s.up = true;
    const seen: string[] = [];
    let rewritten = 0;
    const check = () => {
      for (const f of spoolFiles(dir)) {
        const was = before.get(f);
        if (!was) continue;
        const now = statSync(join(dir, f));
        if (now.ino !== was.ino || now.size !== was.size) rewritten++;
      }
    };
    const sink = s.sink;
    const watched: AuditSink = {
      ...sink,
      name: sink.name,
      async send(lines) {
        check();
        seen.push(...lines);
        await sink.send(lines);
      },
    };
    const w2 = createAuditWriter({
      sinks: [watched],
      format: 'ecs',
      onSinkFailure: 'buffer',
      spoolDir: dir,
      queueSize: 100,
      batchSize: 250,
      log: silentLogger,
    });
    onTestFinished(() => w2.close(100));
    expect(await w2.flush(20_000)).toBe(true);
    check();
    expect(rewritten).toBe(0);
    // The 3000 records, then the first run's final record (audit_stopped, written by close).
    expect(firstDeliveries(parseRecords(seen)).map(sequenceOf)).toEqual(Array.from({ length: 3001 }, (_, i) => i + 1));
    expect(seen).toHaveLength(3001);
    await expect.poll(() => spoolFiles(dir), { timeout: 5000 }).toEqual([]);
  });

  it('a disk that refuses the spool: records wait in memory, canAccept() turns false (503), readiness says why; all land once it takes them again', async () => {
    const dir = tempDir();
    const s = switchSink();
    // The first segment's name is taken by a directory: every write to it fails (EISDIR).
    const base = openSpool(dir, s.sink.name).path;
    const blocker = `${base}.000000000001.spool`;
    const w = createAuditWriter({
      sinks: [s.sink],
      format: 'ecs',
      onSinkFailure: 'buffer',
      spoolDir: dir,
      queueSize: 100,
      log: silentLogger,
    });
    onTestFinished(() => w.close(100));
    mkdirSync(blocker);
    for (let i = 1; i <= 20; i++) w.write(sampleRequest(i));
    await expect.poll(() => w.canAccept(), { timeout: 5000, interval: 10 }).toBe(false);
    expect(w.ready().checks['audit:http:http://siem.test/ingest']).toMatch(/^spool failing: EISDIR/);
    rmSync(blocker, { recursive: true });
    await expect.poll(() => w.canAccept(), { timeout: 5000, interval: 20 }).toBe(true);
    await expect.poll(() => spoolLines(dir), { timeout: 5000, interval: 20 }).toBe(20);
    s.up = true;
    expect(await w.flush(10_000)).toBe(true);
    expect(parseRecords(s.delivered).map(sequenceOf)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
