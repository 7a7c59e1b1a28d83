// Audit records appended to a file (NDJSON), rotated by size: audit.ndjson → audit.ndjson.1 → ...
// up to max_files. fsync: "always" syncs every batch (no record lost on power failure),
// "interval" once a second, "never" leaves it to the OS.
import { close, closeSync, fstatSync, fsync, fsyncSync, mkdirSync, open, openSync, write } from 'node:fs';
import { access, rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);
// A plain descriptor (not a FileHandle, which closes itself when collected): the sink owns it.
const openAsync = promisify(open);
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const writeAsync = (fd: number, buf: Buffer, offset: number) =>
  new Promise<number>((resolve, reject) => write(fd, buf, offset, buf.length - offset, null, (err, n) => (err ? reject(err) : resolve(n))));
import { dirname } from 'node:path';
import type { AuditSink } from '../sink.ts';

export interface FileSinkOptions {
  readonly path: string;
  readonly maxBytes: number;
  readonly maxFiles: number;
  readonly fsync: 'always' | 'interval' | 'never';
}

/** The largest encoding buffer kept for the next batch. */
const MAX_SPARE_BYTES = 4 * 1024 * 1024;

/**
 * The batch as bytes, one line each, into `buf` when it is large enough (the caller's reused
 * buffer) or a new one. Encoding line by line into one buffer: Buffer.from(lines.join('\n')) made
 * a large string per batch and cost 2.5-13 µs a line, more than building and hashing the record
 * (docs/performance.md). A UTF-16 code unit is at most 3 UTF-8 bytes, so the bound always fits.
 */
export function encodeLines(lines: readonly string[], buf: Buffer | undefined): Buffer {
  let bound = 0;
  for (const line of lines) bound += line.length * 3 + 1;
  // allocUnsafeSlow: a buffer of its own (not a slice of the shared pool), so it can be kept.
  const out = buf && buf.length >= bound ? buf : Buffer.allocUnsafeSlow(Math.max(bound, 64 * 1024));
  let at = 0;
  for (const line of lines) {
    at += out.write(line, at);
    out[at++] = 0x0a;
  }
  return out.subarray(0, at);
}

export function createFileSink(o: FileSinkOptions): AuditSink {
  mkdirSync(dirname(o.path), { recursive: true });
  let fd = openSync(o.path, 'a', 0o600);
  let size = fstatSync(fd).size;
  let ok = true;
  let dirty = false;
  /** The encoding buffer, reused batch after batch; taken while a send uses it. */
  let spare: Buffer | undefined;
  const timer =
    o.fsync === 'interval'
      ? setInterval(() => {
          if (dirty && rotation === undefined) {
            dirty = false;
            fsync(fd, (err) => {
              if (err) ok = false;
            });
          }
        }, 1000)
      : undefined;
  timer?.unref();

  /**
   * The rotation in progress; the interval fsync leaves the file alone meanwhile (its fd is about
   * to close). It runs on libuv's thread pool, like the writes: the fsync that closes a file waits
   * for up to a second of records to reach the disk, and done synchronously it held every request
   * up for 9-11 ms once per max_size (every ~10 s at 10k requests/s with the default 100MB). The
   * writer sends one batch at a time, so nothing is written meanwhile.
   */
  let rotation: Promise<void> | undefined;
  const rotate = async () => {
    try {
      const old = fd;
      await fsyncAsync(old);
      await rm(`${o.path}.${o.maxFiles}`, { force: true });
      for (let i = o.maxFiles - 1; i >= 1; i--) {
        if (await exists(`${o.path}.${i}`)) await rename(`${o.path}.${i}`, `${o.path}.${i + 1}`);
      }
      await rename(o.path, `${o.path}.1`);
      // The new file is open before the old fd closes: `fd` is never a closed descriptor.
      fd = await openAsync(o.path, 'a', 0o600);
      size = 0;
      await closeAsync(old);
    } finally {
      rotation = undefined;
    }
  };

  return {
    name: `file:${o.path}`,
    remote: false,
    async send(lines) {
      const data = encodeLines(lines, spare);
      spare = undefined;
      try {
        if (size > 0 && size + data.length > o.maxBytes) {
          rotation = rotate();
          await rotation;
        }
        // The write runs on libuv's thread pool, off the request path; the writer sends one batch
        // at a time, so order is kept.
        let written = 0;
        while (written < data.length) written += await writeAsync(fd, data, written);
        size += data.length;
        if (o.fsync === 'always') await fsyncAsync(fd);
        else dirty = true;
        ok = true;
      } catch (err) {
        ok = false;
        throw err;
      } finally {
        // A buffer grown for an unusual batch is not kept.
        if (data.buffer.byteLength <= MAX_SPARE_BYTES) spare = Buffer.from(data.buffer);
      }
    },
    ready: () => ok,
    async close() {
      if (timer) clearInterval(timer);
      // A rotation still running (a send the writer stopped waiting for) ends on the new file first.
      await rotation?.catch(() => undefined);
      try {
        fsyncSync(fd);
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}
