// The disk spool of one sink: when the sink is down, records are appended here (in order) and
// replayed from the front once it is back, so nothing is dropped and order is kept. Appends are
// synchronous writes, so a record acknowledged to the spool survives the process being killed.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

export interface Spool {
  readonly path: string;
  /** Lines waiting in the spool. */
  size(): number;
  append(lines: readonly string[]): void;
  /** Put records back in front (a failed batch that is older than everything spooled). */
  prepend(lines: readonly string[]): void;
  /** The first `n` lines, oldest first. */
  peek(n: number): string[];
  /** Drop the first `n` lines (after they were delivered). */
  drop(n: number): void;
}

export function openSpool(dir: string, sinkName: string): Spool {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Readable name plus a hash of the full sink name, so "/a/b" and "/a_b" never share a file.
  const digest = createHash('sha256').update(sinkName).digest('hex').slice(0, 12);
  const path = join(dir, `${sinkName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)}-${digest}.spool`);
  // Lines left by a previous run come first: they are older than anything this process writes.
  let lines: string[] = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
  let offset = 0;

  const rewrite = () => {
    const rest = lines.slice(offset);
    lines = rest;
    offset = 0;
    if (rest.length === 0) {
      rmSync(path, { force: true });
      return;
    }
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `${rest.join('\n')}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  };

  return {
    path,
    size: () => lines.length - offset,
    append(more) {
      if (more.length === 0) return;
      appendFileSync(path, `${more.join('\n')}\n`, { mode: 0o600 });
      lines.push(...more);
    },
    prepend(older) {
      if (older.length === 0) return;
      lines = [...older, ...lines.slice(offset)];
      offset = 0;
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, `${lines.join('\n')}\n`, { mode: 0o600 });
      renameSync(tmp, path);
    },
    peek(n) {
      return lines.slice(offset, offset + n);
    },
    drop(n) {
      offset = Math.min(lines.length, offset + n);
      // Rewrite the file now and then, not after every batch.
      if (offset === lines.length || offset >= 1000) rewrite();
    },
  };
}
