// Audit records appended to a file (NDJSON), rotated by size: audit.ndjson → audit.ndjson.1 → ...
// up to max_files. fsync: "always" syncs every batch (no record lost on power failure),
// "interval" once a second, "never" leaves it to the OS.
import { closeSync, existsSync, fstatSync, fsync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, write } from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);
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
          if (dirty) {
            dirty = false;
            fsync(fd, (err) => {
              if (err) ok = false;
            });
          }
        }, 1000)
      : undefined;
  timer?.unref();

  const rotate = () => {
    fsyncSync(fd);
    closeSync(fd);
    rmSync(`${o.path}.${o.maxFiles}`, { force: true });
    for (let i = o.maxFiles - 1; i >= 1; i--) {
      if (existsSync(`${o.path}.${i}`)) renameSync(`${o.path}.${i}`, `${o.path}.${i + 1}`);
    }
    renameSync(o.path, `${o.path}.1`);
    fd = openSync(o.path, 'a', 0o600);
    size = 0;
  };

  return {
    name: `file:${o.path}`,
    remote: false,
    async send(lines) {
      const data = encodeLines(lines, spare);
      spare = undefined;
      try {
        if (size > 0 && size + data.length > o.maxBytes) rotate();
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
      try {
        fsyncSync(fd);
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}
