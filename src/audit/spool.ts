// The disk spool of one sink: records wait here, in order, while the sink is down, and are read
// back from the front once it answers again. Segment files plus a cursor, all I/O off the event
// loop's critical path:
//   <base>.<id>.spool   NDJSON segments, appended asynchronously, a new one past segmentBytes;
//                       a segment is deleted once every record in it was delivered.
//   <base>.cursor       "<id> <byte offset>": where delivery stands in the oldest segment,
//                       rewritten (tmp + rename) after each delivered batch.
// A SIGKILL loses nothing that reached the file and replays at most what was delivered after the
// last cursor write (at-least-once: receivers drop repeats by boot id + sequence). Records not yet written
// (a few milliseconds' worth) are lost with the process, as they are from the memory queue.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { atLineStart, countLines, trimTornLine } from './spool-segment.ts';

export interface Spool {
  /** `<dir>/<sink>-<digest>`: the prefix of this spool's files (for logs). */
  readonly path: string;
  /** Records waiting: appended and not yet consumed (written to disk or about to be). */
  size(): number;
  /** Add records after everything spooled; written asynchronously, in order. */
  append(lines: readonly string[]): void;
  /**
   * Up to `max` records from the front, oldest first, without consuming them: the same records
   * come back until consume() takes them. Never concurrent with itself or consume().
   */
  read(max: number): Promise<string[]>;
  /** The first `lines.length` records were delivered (they are `lines`): move the cursor past them. */
  consume(lines: readonly string[]): void;
  /** Resolves once the cursor on disk is where consume() left it. */
  cursorSaved(): Promise<void>;
  /** The last disk error, while appends are failing (they are retried; nothing is dropped). */
  readonly error: Error | undefined;
  /** Every append is on disk (bounded by `timeoutMs`); the cursor is saved; files closed. */
  close(timeoutMs?: number): Promise<void>;
}

export interface SpoolOptions {
  /** A new segment starts once the current one would pass this size. */
  readonly segmentBytes?: number;
}

interface Segment {
  readonly id: number;
  readonly file: string;
  /** Bytes appended (written or queued). */
  bytes: number;
  /** Bytes on disk. */
  written: number;
  /** No more appends: a later segment took over. */
  sealed: boolean;
  writer: FileHandle | undefined;
}

interface AheadLine {
  readonly text: string;
  readonly bytes: number;
}

const SEGMENT_BYTES = 16 * 1024 * 1024;
// Reads of a quarter MB: a 500-record batch in two, few lines left over between batches.
const READ_CHUNK = 256 * 1024;
const RETRY_MS = 1000;
const NL = 0x0a;

const pad = (id: number) => String(id).padStart(12, '0');

export function openSpool(dir: string, sinkName: string, o: SpoolOptions = {}): Spool {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Readable name plus a hash of the full sink name, so "/a/b" and "/a_b" never share a spool.
  const digest = createHash('sha256').update(sinkName).digest('hex').slice(0, 12);
  const base = join(dir, `${sinkName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)}-${digest}`);
  return new SegmentSpool(base, o.segmentBytes ?? SEGMENT_BYTES);
}

class SegmentSpool implements Spool {
  readonly path: string;
  readonly #segmentBytes: number;
  readonly #cursorFile: string;
  /** Oldest first; the cursor is always in segments[0]. */
  #segments: Segment[] = [];
  #cursor = 0;
  #nextId = 1;
  #size = 0;
  /** Records read past the cursor and not yet consumed, in order. */
  #ahead: AheadLine[] = [];
  /** Where the next disk read starts; undefined = at the cursor. */
  #readAt: { seg: Segment; off: number } | undefined;
  #reader: { seg: Segment; fh: FileHandle } | undefined;
  readonly #pending: { seg: Segment; buf: Buffer }[] = [];
  #writing = false;
  #kicked = false;
  #writeWaiters: (() => void)[] = [];
  #retry: NodeJS.Timeout | undefined;
  #cursorDirty = false;
  #cursorWriting: Promise<void> | undefined;
  #closed = false;
  error: Error | undefined;

  constructor(base: string, segmentBytes: number) {
    this.path = base;
    this.#segmentBytes = segmentBytes;
    this.#cursorFile = `${base}.cursor`;
    this.#recover();
  }

  size(): number {
    return this.#size;
  }

  /** Synchronous, once, at start: find the segments, apply the cursor, count what waits. */
  #recover(): void {
    const dir = join(this.path, '..');
    const prefix = `${basename(this.path)}.`;
    // A spool written before segments existed (one <base>.spool file) is the oldest segment.
    if (existsSync(`${this.path}.spool`)) renameSync(`${this.path}.spool`, this.#fileOf(0));
    const ids = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .filter((f) => f.startsWith(prefix) && /^\d{12}\.spool$/.test(f.slice(prefix.length)))
      .map((f) => Number(f.slice(prefix.length, prefix.length + 12)))
      .sort((a, b) => a - b);
    let cursor: { id: number; off: number } | undefined;
    if (existsSync(this.#cursorFile)) {
      const m = /^(\d+) (\d+)\n?$/.exec(readFileSync(this.#cursorFile, 'utf8'));
      if (m) cursor = { id: Number(m[1]), off: Number(m[2]) };
    }
    for (const id of ids) {
      // Older than the cursor's segment: delivered (the process died before deleting it).
      if (cursor && id < cursor.id) {
        rmSync(this.#fileOf(id), { force: true });
        continue;
      }
      const file = this.#fileOf(id);
      const bytes = trimTornLine(file);
      if (bytes === 0) {
        rmSync(file, { force: true });
        continue;
      }
      this.#segments.push({ id, file, bytes, written: bytes, sealed: true, writer: undefined });
    }
    const first = this.#segments[0];
    if (first && cursor && cursor.id === first.id && cursor.off <= first.bytes && atLineStart(first.file, cursor.off))
      this.#cursor = cursor.off;
    for (const [i, s] of this.#segments.entries()) this.#size += countLines(s.file, i === 0 ? this.#cursor : 0);
    this.#nextId = Math.max(ids.at(-1) ?? 0, cursor?.id ?? 0) + 1;
    this.#dropDelivered();
  }

  #fileOf(id: number): string {
    return `${this.path}.${pad(id)}.spool`;
  }

  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const buf = Buffer.from(`${lines.join('\n')}\n`);
    if (this.#closed) {
      // A record that arrives during shutdown still reaches the disk, in a segment of its own.
      const id = this.#nextId++;
      appendFileSync(this.#fileOf(id), buf, { mode: 0o600 });
      this.#segments.push({ id, file: this.#fileOf(id), bytes: buf.length, written: buf.length, sealed: true, writer: undefined });
      this.#size += lines.length;
      return;
    }
    let tail = this.#segments.at(-1);
    if (tail && !tail.sealed && tail.bytes > 0 && tail.bytes + buf.length > this.#segmentBytes) {
      tail.sealed = true;
      tail = undefined;
    }
    if (!tail || tail.sealed) {
      const id = this.#nextId++;
      tail = { id, file: this.#fileOf(id), bytes: 0, written: 0, sealed: false, writer: undefined };
      this.#segments.push(tail);
    }
    tail.bytes += buf.length;
    this.#size += lines.length;
    this.#pending.push({ seg: tail, buf });
    // One write for everything appended during this turn of the event loop (a burst of requests),
    // issued after it: the caller never waits on the disk.
    if (!this.#kicked) {
      this.#kicked = true;
      setImmediate(() => {
        this.#kicked = false;
        void this.#writeLoop();
      });
    }
  }

  /** One writer, in order: consecutive chunks for a segment go down in one write. */
  async #writeLoop(): Promise<void> {
    if (this.#writing || this.#retry) return;
    this.#writing = true;
    try {
      while (this.#pending.length > 0) {
        const seg = this.#pending[0]!.seg;
        let n = 0;
        while (n < this.#pending.length && this.#pending[n]!.seg === seg) n++;
        const buf = n === 1 ? this.#pending[0]!.buf : Buffer.concat(this.#pending.slice(0, n).map((p) => p.buf));
        seg.writer ??= await open(seg.file, 'a', 0o600);
        let off = 0;
        while (off < buf.length) off += (await seg.writer.write(buf, off, buf.length - off)).bytesWritten;
        this.#pending.splice(0, n);
        seg.written += buf.length;
        this.error = undefined;
        if (seg.sealed && !this.#pending.some((p) => p.seg === seg)) await this.#closeWriter(seg);
        this.#wake();
      }
    } catch (err) {
      // Disk full, permissions: keep every chunk and try again; the writer reports the error.
      this.error = err as Error;
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        void this.#writeLoop();
      }, RETRY_MS);
      this.#retry.unref();
    } finally {
      this.#writing = false;
    }
    this.#dropDelivered();
  }

  #wake(): void {
    for (const w of this.#writeWaiters.splice(0)) w();
  }

  #written(): Promise<void> {
    return new Promise((resolve) => this.#writeWaiters.push(resolve));
  }

  async #closeWriter(seg: Segment): Promise<void> {
    const fh = seg.writer;
    seg.writer = undefined;
    await fh?.close();
  }

  async read(max: number): Promise<string[]> {
    while (this.#ahead.length < max && !this.#closed) {
      const at = this.#readAt ?? this.#cursorAt();
      if (!at) break;
      this.#readAt = at;
      if (at.off < at.seg.written) {
        await this.#readChunk(at);
        continue;
      }
      if (at.off < at.seg.bytes) {
        // Appended but not on disk yet: return what we have, or wait for the write.
        if (this.#ahead.length > 0) break;
        await this.#written();
        continue;
      }
      const next = this.#segments[this.#segments.indexOf(at.seg) + 1];
      if (!next) break;
      this.#readAt = { seg: next, off: 0 };
    }
    return this.#ahead.slice(0, max).map((l) => l.text);
  }

  /** The cursor as a place in a segment (after consume() it may run past the first one). */
  #cursorAt(): { seg: Segment; off: number } | undefined {
    let off = this.#cursor;
    for (const [i, seg] of this.#segments.entries()) {
      if (off < seg.bytes || i === this.#segments.length - 1) return { seg, off };
      off -= seg.bytes;
    }
    return undefined;
  }

  async #readChunk(at: { seg: Segment; off: number }): Promise<void> {
    if (this.#reader?.seg !== at.seg) {
      await this.#reader?.fh.close();
      this.#reader = { seg: at.seg, fh: await open(at.seg.file, 'r') };
    }
    // Whole lines only: written data always ends at a line end, a chunk may not.
    let len = Math.min(READ_CHUNK, at.seg.written - at.off);
    for (;;) {
      const buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await this.#reader.fh.read(buf, 0, len, at.off);
      const last = buf.lastIndexOf(NL, bytesRead - 1);
      if (last < 0) {
        if (len >= at.seg.written - at.off) throw new Error(`spool segment ${at.seg.file} does not end with a newline`);
        len = Math.min(len * 2, at.seg.written - at.off);
        continue;
      }
      let start = 0;
      while (start <= last) {
        const end = buf.indexOf(NL, start);
        this.#ahead.push({ text: buf.toString('utf8', start, end), bytes: end - start + 1 });
        start = end + 1;
      }
      at.off += last + 1;
      return;
    }
  }

  consume(lines: readonly string[]): void {
    if (lines.length === 0) return;
    let bytes = 0;
    const fromAhead = Math.min(lines.length, this.#ahead.length);
    for (const l of this.#ahead.splice(0, fromAhead)) bytes += l.bytes;
    // Records consumed without being read (the writer's in-flight batch that also went to disk):
    // their sizes come from the records themselves.
    for (let i = fromAhead; i < lines.length; i++) bytes += Buffer.byteLength(lines[i]!) + 1;
    if (fromAhead < lines.length) this.#readAt = undefined;
    this.#size = Math.max(0, this.#size - lines.length);
    this.#cursor += bytes;
    this.#dropDelivered();
    this.#saveCursor();
  }

  /** Delete segments whose every record was delivered (never one still being written). */
  #dropDelivered(): void {
    for (;;) {
      const first = this.#segments[0];
      if (!first || this.#cursor < first.bytes) return;
      // The tail is deleted only once nothing waits at all; then the next append starts afresh.
      if (!first.sealed) {
        if (this.#size > 0 || this.#pending.length > 0) return;
        first.sealed = true;
      }
      if (first.written < first.bytes || first.writer) {
        if (first.writer && first.written === first.bytes && !this.#writing)
          void this.#closeWriter(first).then(() => this.#dropDelivered());
        return;
      }
      this.#segments.shift();
      this.#cursor -= first.bytes;
      if (this.#readAt?.seg === first) this.#readAt = undefined;
      if (this.#reader?.seg === first) {
        const fh = this.#reader.fh;
        this.#reader = undefined;
        void fh.close().catch(() => {});
      }
      void rm(first.file, { force: true }).catch(() => {});
      this.#saveCursor();
    }
  }

  /** Persist the cursor after the current write (coalesced: one write in flight, the latest wins). */
  #saveCursor(): void {
    this.#cursorDirty = true;
    this.#cursorWriting ??= (async () => {
      while (this.#cursorDirty) {
        this.#cursorDirty = false;
        const at = this.#cursorAt();
        // No segment left: a cursor naming the next id keeps ids from being reused.
        const text = at ? `${at.seg.id} ${at.off}\n` : `${this.#nextId} 0\n`;
        const tmp = `${this.#cursorFile}.tmp`;
        try {
          await writeFile(tmp, text, { mode: 0o600 });
          await rename(tmp, this.#cursorFile);
        } catch (err) {
          this.error = err as Error;
        }
      }
      this.#cursorWriting = undefined;
    })();
  }

  async cursorSaved(): Promise<void> {
    while (this.#cursorWriting) await this.#cursorWriting;
  }

  async close(timeoutMs = 5000): Promise<void> {
    this.#closed = true;
    const deadline = Date.now() + timeoutMs;
    while ((this.#pending.length > 0 || this.#writing) && Date.now() < deadline) {
      if (this.#retry) {
        clearTimeout(this.#retry);
        this.#retry = undefined;
      }
      void this.#writeLoop();
      await Promise.race([this.#written(), new Promise((r) => setTimeout(r, 50))]);
    }
    if (this.#retry) clearTimeout(this.#retry);
    this.#dropDelivered();
    while (this.#cursorWriting) await this.#cursorWriting;
    await this.#reader?.fh.close().catch(() => {});
    this.#reader = undefined;
    for (const s of this.#segments) await this.#closeWriter(s).catch(() => {});
  }
}
