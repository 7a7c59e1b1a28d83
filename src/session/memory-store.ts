// In-process session store: one Map in insertion order = least recently used first, so the
// oldest-idle session is evicted when `maxSessions` is reached. For the demo and single-process
// deployments; not shared between replicas or workers. Its one-time values (one-time.ts) are kept
// beside it, in memory-one-time.ts.
import { joinStores } from './joined-store.ts';
import { MemoryOneTimeStore } from './memory-one-time.ts';
import type { OneTimeStore } from './one-time.ts';
import { indexNames, type SessionRecord, type SessionStore } from './store.ts';

interface Entry {
  record: SessionRecord;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  readonly maxSessions: number;
  readonly now?: () => number;
}

export function createMemoryStore(options: MemoryStoreOptions): SessionStore & OneTimeStore {
  const now = options.now ?? Date.now;
  return joinStores(new MemorySessionStore(options.maxSessions, now), new MemoryOneTimeStore({ maxValues: options.maxSessions, now }));
}

type RevokedListener = (keys: readonly string[] | undefined) => void;

class MemorySessionStore implements SessionStore {
  readonly kind = 'memory';
  readonly shared = false;
  readonly #max: number;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Entry>();
  /** Index name → session keys (store.ts indexNames). */
  readonly #indexes = new Map<string, Set<string>>();
  /** Revoked key → until when it is remembered as revoked. */
  readonly #tombstones = new Map<string, number>();
  readonly #listeners: RevokedListener[] = [];

  constructor(maxSessions: number, now: () => number) {
    this.#max = maxSessions;
    this.#now = now;
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    return this.#live(key)?.record;
  }

  async set(key: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.#put(key, record, ttlMs);
  }

  async touch(key: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    if (!this.#live(key)) return false;
    // Re-insert so the Map order stays least-recently-used first.
    this.#put(key, record, ttlMs);
    return true;
  }

  async revoke(key: string, tombstoneMs: number): Promise<boolean> {
    const existed = this.#remove(key) !== undefined;
    this.#tombstone(key, tombstoneMs);
    this.#notify([key]);
    return existed;
  }

  async delete(key: string): Promise<void> {
    this.#remove(key);
  }

  async wasRevoked(key: string): Promise<boolean> {
    const until = this.#tombstones.get(key);
    if (until === undefined) return false;
    if (until <= this.#now()) {
      this.#tombstones.delete(key);
      return false;
    }
    return true;
  }

  // The cursor is a position in the Map (least recently used first): records removed meanwhile
  // shift the rest, so a walk may skip some; the next walk sees them.
  async scan(cursor: string, count: number): Promise<{ cursor: string; entries: Array<[string, SessionRecord]> }> {
    const from = Number.parseInt(cursor, 10) || 0;
    const keys = [...this.#sessions.keys()].slice(from, from + Math.max(1, count));
    const entries: Array<[string, SessionRecord]> = [];
    for (const key of keys) {
      const e = this.#live(key);
      if (e) entries.push([key, e.record]);
    }
    const next = from + keys.length;
    return { cursor: keys.length === 0 || next >= this.#sessions.size ? '0' : String(next), entries };
  }

  async deleteIfUnchanged(key: string, record: SessionRecord): Promise<boolean> {
    if (this.#sessions.get(key)?.record !== record) return false;
    this.#remove(key);
    return true;
  }

  async listIndex(name: string): Promise<Array<[string, SessionRecord]>> {
    const out: Array<[string, SessionRecord]> = [];
    for (const key of [...(this.#indexes.get(name) ?? [])]) {
      const e = this.#live(key);
      if (e) out.push([key, e.record]);
    }
    return out;
  }

  async revokeIndex(name: string, tombstoneMs: number): Promise<string[]> {
    const keys = [...(this.#indexes.get(name) ?? [])].filter((k) => this.#live(k) !== undefined);
    for (const key of keys) {
      this.#remove(key);
      this.#tombstone(key, tombstoneMs);
    }
    this.#notify(keys);
    return keys;
  }

  onRevoked(listener: RevokedListener): void {
    this.#listeners.push(listener);
  }

  async announceChanged(): Promise<void> {}

  onChanged(): void {
    // One process: its manager keeps no copy in front of this store.
  }

  invalidationLive(): boolean {
    return true;
  }

  async ping(): Promise<void> {}

  isReady(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.#sessions.clear();
    this.#indexes.clear();
    this.#tombstones.clear();
  }

  /** The entry, unless it has expired (then it is removed). */
  #live(key: string): Entry | undefined {
    const e = this.#sessions.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.#now()) {
      this.#remove(key);
      return undefined;
    }
    return e;
  }

  /** Insert at the most-recently-used end, evicting the least recently used beyond the limit. */
  #put(key: string, record: SessionRecord, ttlMs: number): void {
    this.#remove(key);
    for (const oldest of this.#sessions.keys()) {
      if (this.#sessions.size < this.#max) break;
      this.#remove(oldest);
    }
    this.#sessions.set(key, { record, expiresAt: this.#now() + ttlMs });
    for (const name of indexNames(record)) {
      let set = this.#indexes.get(name);
      if (!set) this.#indexes.set(name, (set = new Set()));
      set.add(key);
    }
  }

  #remove(key: string): SessionRecord | undefined {
    const e = this.#sessions.get(key);
    if (!e) return undefined;
    this.#sessions.delete(key);
    for (const name of indexNames(e.record)) {
      const set = this.#indexes.get(name);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) this.#indexes.delete(name);
    }
    return e.record;
  }

  #tombstone(key: string, ms: number): void {
    this.#tombstones.set(key, this.#now() + ms);
    // Bound the tombstone map too: forget the oldest beyond the session limit.
    if (this.#tombstones.size > this.#max) {
      for (const oldest of this.#tombstones.keys()) {
        this.#tombstones.delete(oldest);
        break;
      }
    }
  }

  #notify(keys: string[]): void {
    if (keys.length > 0) for (const l of this.#listeners) l(keys);
  }
}
