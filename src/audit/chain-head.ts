// Where the last run's chain ended, kept in the spool directory (one per process), so the next
// process start links its first record to it (chain.ts): a run deleted from the trail then breaks
// the link. The head is saved at most once a second while running (not once per record: that
// would put a file write on every request) and on a clean shutdown, with the final record. After a kill the saved head may lag by the last second's records; audit-verify says so
// rather than calling it tampering.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';

export interface ChainHead {
  readonly bootId: string;
  readonly sequence: number;
  readonly hash: string;
  /** The run wrote its final record (a clean shutdown). */
  readonly final: boolean;
}

const FILE = 'chain-head.json';
const SAVE_EVERY_MS = 1000;

/** The previous run's head, or undefined (first run, or an unreadable file: a new chain starts). */
export function loadChainHead(dir: string, log: Logger): ChainHead | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const h = JSON.parse(text) as Partial<Record<string, unknown>>;
    if (typeof h.boot_id === 'string' && typeof h.sequence === 'number' && typeof h.hash === 'string' && /^[0-9a-f]{64}$/.test(h.hash)) {
      return { bootId: h.boot_id, sequence: h.sequence, hash: h.hash, final: h.final === true };
    }
  } catch {
    // Falls through to the warning.
  }
  log.warn({ file: join(dir, FILE) }, 'audit chain head file unreadable; this run starts a new chain');
  return undefined;
}

const text = (h: ChainHead) => `${JSON.stringify({ boot_id: h.bootId, sequence: h.sequence, hash: h.hash, final: h.final })}\n`;

/** Keeps the head on disk: `note` after every record, `saveFinal` once on shutdown. */
export class ChainHeadKeeper {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  #head: ChainHead | undefined;
  #dirty = false;
  #failed = false;

  constructor(dir: string, log: Logger) {
    this.#dir = dir;
    this.#log = log;
    this.#timer = setInterval(() => this.#save(), SAVE_EVERY_MS);
    this.#timer.unref();
  }

  note(h: ChainHead): void {
    this.#head = h;
    this.#dirty = true;
  }

  /** On a clean shutdown, after the final record. */
  saveFinal(): void {
    clearInterval(this.#timer);
    this.#dirty = true;
    this.#save();
  }

  /** Synchronous (a line of ~150 bytes once a second): no save can overtake another. */
  #save(): void {
    const h = this.#head;
    if (!h || !this.#dirty) return;
    this.#dirty = false;
    try {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      const tmp = join(this.#dir, `${FILE}.${process.pid}.tmp`);
      writeFileSync(tmp, text(h));
      renameSync(tmp, join(this.#dir, FILE));
      this.#failed = false;
    } catch (err) {
      if (!this.#failed)
        this.#log.warn({ err: (err as Error).message }, 'could not save the audit chain head; the next run may start a new chain');
      this.#failed = true;
    }
  }
}
