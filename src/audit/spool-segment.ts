// Reading a spool segment at start, synchronously, once: what a crash can leave (a torn last line),
// how many records wait, and whether a saved cursor points at a line start.
import { closeSync, ftruncateSync, openSync, readSync, statSync } from 'node:fs';

const CHUNK = 1024 * 1024;
const NL = 0x0a;

/** Size of `file` up to its last line end, cutting a line torn by a crash mid-write. */
export function trimTornLine(file: string): number {
  const size = statSync(file).size;
  if (size === 0) return 0;
  const fd = openSync(file, 'r+');
  try {
    const buf = Buffer.alloc(Math.min(size, CHUNK));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      readSync(fd, buf, 0, end - start, start);
      const i = buf.subarray(0, end - start).lastIndexOf(NL);
      if (i >= 0) {
        const keep = start + i + 1;
        if (keep < size) ftruncateSync(fd, keep);
        return keep;
      }
      end = start;
    }
    ftruncateSync(fd, 0);
    return 0;
  } finally {
    closeSync(fd);
  }
}

export function countLines(file: string, from: number): number {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let n = 0;
    let pos = from;
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, pos);
      if (got === 0) return n;
      let i = buf.indexOf(NL, 0);
      while (i >= 0 && i < got) {
        n++;
        i = buf.indexOf(NL, i + 1);
      }
      pos += got;
    }
  } finally {
    closeSync(fd);
  }
}

/** Is `off` the start of a line (so a cursor there is one this spool wrote)? */
export function atLineStart(file: string, off: number): boolean {
  if (off === 0) return true;
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(1);
    return readSync(fd, b, 0, 1, off - 1) === 1 && b[0] === NL;
  } finally {
    closeSync(fd);
  }
}
