// The segment spool on a real disk: appends are asynchronous and ordered, segments roll by size and
// are deleted once delivered, the cursor survives a restart, and what a crash can leave behind
// (a torn last line, a delivered segment not yet deleted, a spool from before segments) is read
// back correctly.
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openSpool, type Spool } from '../../src/audit/spool.ts';
import { line } from './sink.contract.ts';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-spool-test-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const segments = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.spool'))
    .sort();
const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => line(from + i, 200));

/** Read and consume exactly `n` records (read() may return fewer than asked while writes land). */
async function take(s: Spool, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 10_000 && out.length < n; i++) {
    const got = await s.read(n - out.length);
    out.push(...got);
    s.consume(got);
  }
  return out;
}

/** Read and consume everything, `batch` at a time (bounded). */
async function drainAll(s: Spool, batch = 100): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 10_000 && s.size() > 0; i++) {
    const got = await s.read(batch);
    out.push(...got);
    s.consume(got);
  }
  return out;
}

describe('audit spool (segments + cursor)', () => {
  it("appends asynchronously (nothing touches the disk on the caller's turn), in order, and reads them back", async () => {
    const dir = tempDir();
    const s = openSpool(dir, 'http:sink');
    s.append(lines(1, 3));
    s.append(lines(4, 2));
    // The write needs a later turn of the event loop: on this one no byte is on disk.
    expect(segments(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)).toBe(0);
    expect(s.size()).toBe(5);
    expect(await s.read(10)).toEqual(lines(1, 5));
    // Reading does not consume: the same records come back until consume().
    expect(await s.read(2)).toEqual(lines(1, 2));
    s.consume(lines(1, 2));
    expect(s.size()).toBe(3);
    expect(await s.read(10)).toEqual(lines(3, 3));
    await s.close();
  });

  it('rolls segments by size, deletes each once delivered, and leaves nothing when drained', async () => {
    const dir = tempDir();
    const s = openSpool(dir, 'http:sink', { segmentBytes: 4096 });
    const all = lines(1, 200); // ~45 KB: a dozen segments
    for (let i = 0; i < all.length; i += 10) s.append(all.slice(i, i + 10));
    await expect.poll(() => segments(dir).length, { timeout: 5000 }).toBeGreaterThanOrEqual(10);
    const before = segments(dir).length;
    const first = await take(s, 60);
    await expect.poll(() => segments(dir).length, { timeout: 5000 }).toBeLessThan(before);
    expect([...first, ...(await drainAll(s, 37))]).toEqual(all);
    expect(s.size()).toBe(0);
    await s.close();
    expect(segments(dir)).toEqual([]);
  });

  it('a new spool on the same directory resumes at the saved cursor: delivered records are not sent again', async () => {
    const dir = tempDir();
    const a = openSpool(dir, 'http:sink', { segmentBytes: 8192 });
    const all = lines(1, 120);
    a.append(all);
    expect(await take(a, 50)).toEqual(all.slice(0, 50));
    await a.close();
    const b = openSpool(dir, 'http:sink', { segmentBytes: 8192 });
    expect(b.size()).toBe(70);
    expect(await drainAll(b)).toEqual(all.slice(50));
    await b.close();
  });

  it('the in-flight batch that also went to disk is consumed without being read (even across a segment boundary)', async () => {
    const dir = tempDir();
    const s = openSpool(dir, 'http:sink', { segmentBytes: 2048 });
    const head = lines(1, 12); // one append: one segment, larger than segmentBytes
    s.append(head);
    s.append(lines(13, 5));
    s.consume(head);
    expect(s.size()).toBe(5);
    expect(await drainAll(s)).toEqual(lines(13, 5));
    await s.close();
    expect(segments(dir)).toEqual([]);
  });

  it('after a crash: a torn last line is cut, a delivered segment left behind is deleted, the cursor applies', async () => {
    const dir = tempDir();
    const s = openSpool(dir, 'http:sink', { segmentBytes: 2048 });
    const all = lines(1, 40);
    for (const l of all) s.append([l]);
    await take(s, 15);
    await s.close();
    const files = segments(dir);
    expect(files.length).toBeGreaterThan(2);
    // The process died mid-write: half a record at the end of the newest segment.
    appendFileSync(join(dir, files.at(-1)!), '{"event":{"seq');
    // ... and before it could delete a segment it had finished: simulate by restoring one.
    const cursor = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.cursor'))!), 'utf8');
    const [id] = cursor.trim().split(' ');
    const older = join(dir, files[0]!.replace(/\.\d{12}\.spool$/, `.${String(Number(id) - 1).padStart(12, '0')}.spool`));
    writeFileSync(older, `${line(999, 200)}\n`);
    const r = openSpool(dir, 'http:sink', { segmentBytes: 2048 });
    expect(existsSync(older)).toBe(false);
    expect(r.size()).toBe(25);
    expect(await drainAll(r)).toEqual(all.slice(15));
    await r.close();
  });

  it('a spool file from before segments (<sink>-<digest>.spool) is delivered first', async () => {
    const dir = tempDir();
    const probe = openSpool(dir, 'http:sink');
    const legacy = `${probe.path}.spool`;
    await probe.close();
    writeFileSync(legacy, `${lines(1, 3).join('\n')}\n`);
    const s = openSpool(dir, 'http:sink');
    s.append(lines(4, 2));
    expect(s.size()).toBe(5);
    expect(await drainAll(s)).toEqual(lines(1, 5));
    await s.close();
    expect(existsSync(legacy)).toBe(false);
  });

  it('read() waits for records appended but not yet on disk', async () => {
    const dir = tempDir();
    const s = openSpool(dir, 'http:sink');
    s.append(lines(1, 1));
    const first = s.read(5);
    s.append(lines(2, 1));
    const got = await first;
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(got).toEqual(lines(1, got.length));
    await s.close();
  });
});
