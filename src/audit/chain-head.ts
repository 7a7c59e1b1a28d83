// Where the last run's chain ended, kept in the spool directory (one per process), so the next
// process start links its first record to it (chain.ts): a run deleted from the trail then breaks
// the link. The head is saved at most once a second while running, asynchronously (not once per
// record: that would put a file write on every request) and on a clean shutdown, with the final
// record. After a kill the saved head may lag by the last second's records; audit-verify says so
// rather than calling it tampering.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
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

/**
 * Keeps the head on disk: `note` after every record (two field stores, no allocation), a save at
 * most once a second off the event loop, and `saveFinal` once on shutdown.
 */
export class ChainHeadKeeper {
  readonly #dir: string;
  readonly #bootId: string;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  #sequence = 0;
  #hash = '';
  #final = false;
  #dirty = false;
  #failed = false;
  #closed = false;
  /** The directory was made (or found): later saves skip the mkdir. */
  #dirMade = false;
  /** The save in flight: saves never overlap, so none can overtake another. */
  #saving: Promise<void> | undefined;

  constructor(dir: string, bootId: string, log: Logger) {
    this.#dir = dir;
    this.#bootId = bootId;
    this.#log = log;
    this.#timer = setInterval(() => this.#save(), SAVE_EVERY_MS);
    this.#timer.unref();
  }

  /** The chain now ends at `sequence` with `hash`; `final` for the run's last record. */
  note(sequence: number, hash: string, final = false): void {
    this.#sequence = sequence;
    this.#hash = hash;
    this.#final = final;
    this.#dirty = true;
  }

  /** On a clean shutdown, after the final record: waits for a save in flight, then saves synchronously. */
  async saveFinal(): Promise<void> {
    clearInterval(this.#timer);
    this.#closed = true;
    await this.#saving;
    if (!this.#dirty || this.#sequence === 0) return;
    this.#dirty = false;
    const body = this.#text();
    try {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      writeFileSync(this.#tmp(), body);
      renameSync(this.#tmp(), join(this.#dir, FILE));
    } catch (err) {
      this.#saveFailed(err);
    }
  }

  #text(): string {
    return text({ bootId: this.#bootId, sequence: this.#sequence, hash: this.#hash, final: this.#final });
  }

  #tmp(): string {
    return join(this.#dir, `${FILE}.${process.pid}.tmp`);
  }

  /**
   * Write a temporary file and rename it over the head, on libuv's thread pool: a synchronous
   * rename waits behind the file system's journal (the audit file's fsync), holding up requests.
   */
  #save(): void {
    if (!this.#dirty || this.#saving || this.#closed || this.#sequence === 0) return;
    this.#dirty = false;
    const body = this.#text();
    const tmp = this.#tmp();
    const made = this.#dirMade ? Promise.resolve(undefined) : mkdir(this.#dir, { recursive: true, mode: 0o700 });
    this.#saving = made
      .then(() => writeFile(tmp, body))
      .then(() => rename(tmp, join(this.#dir, FILE)))
      .then(
        () => {
          this.#dirMade = true;
          this.#failed = false;
        },
        (err: unknown) => {
          this.#dirMade = false;
          this.#saveFailed(err);
        },
      )
      .finally(() => {
        this.#saving = undefined;
      });
  }

  #saveFailed(err: unknown): void {
    if (!this.#failed)
      this.#log.warn({ err: (err as Error).message }, 'could not save the audit chain head; the next run may start a new chain');
    this.#failed = true;
  }
}
