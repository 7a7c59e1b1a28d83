// One-time values in process memory (the memory backend's half of one-time.ts): short-lived values
// and replay markers, bounded like sessions; pending sign-ins with a capacity of their own.
import type { ClosableOneTimeStore } from './joined-store.ts';
import type { PendingBounds, PendingResult, TakenPending } from './one-time.ts';

export interface MemoryOneTimeOptions {
  /** Most short-lived values and markers kept; beyond, the oldest is forgotten. */
  readonly maxValues: number;
  readonly now: () => number;
}

export class MemoryOneTimeStore implements ClosableOneTimeStore {
  readonly #max: number;
  readonly #now: () => number;
  /** Short-lived values and replay markers ('' for markers), with their deadline. */
  readonly #values = new Map<string, { value: string; until: number }>();
  /**
   * Pending sign-ins: a capacity of their own (bounds.max), so a flood of anonymous sign-ins can
   * neither evict sessions nor other values, nor grow memory. Insertion order is expiry order
   * (one TTL for all), so expired ones are pruned from the front.
   */
  readonly #pending = new Map<string, { value: string; until: number; owner: string }>();
  /** Pending names by owner, oldest first. */
  readonly #owners = new Map<string, string[]>();

  constructor(options: MemoryOneTimeOptions) {
    this.#max = options.maxValues;
    this.#now = options.now;
  }

  async put(name: string, value: string, ttlMs: number): Promise<void> {
    this.#putValue(name, value, ttlMs);
  }

  async take(name: string): Promise<string | undefined> {
    const e = this.#liveValue(name);
    this.#values.delete(name);
    return e?.value;
  }

  async peek(name: string): Promise<string | undefined> {
    return this.#liveValue(name)?.value;
  }

  async once(name: string, ttlMs: number): Promise<boolean> {
    if (this.#liveValue(name)) return false;
    this.#putValue(name, '', ttlMs);
    return true;
  }

  async putPending(name: string, value: string, ttlMs: number, bounds: PendingBounds): Promise<PendingResult> {
    const t = this.#now();
    for (const [n, e] of this.#pending) {
      if (e.until > t) break;
      this.#dropPending(n);
    }
    this.#dropPending(name);
    if (this.#pending.size >= bounds.max) {
      const oldest = this.#pending.values().next();
      return { ok: false, retryAfterMs: oldest.done ? 1 : Math.max(1, oldest.value.until - t) };
    }
    this.#pending.set(name, { value, until: t + ttlMs, owner: bounds.owner });
    let list = this.#owners.get(bounds.owner);
    if (!list) this.#owners.set(bounds.owner, (list = []));
    list.push(name);
    for (const oldest of list.slice(0, Math.max(0, list.length - bounds.perOwner))) this.#dropPending(oldest);
    return { ok: true };
  }

  async takePending(name: string): Promise<TakenPending | undefined> {
    const e = this.#pending.get(name);
    this.#dropPending(name);
    const t = this.#now();
    if (!e || e.until <= t) return undefined;
    const ownerPending = (this.#owners.get(e.owner) ?? []).filter((n) => (this.#pending.get(n)?.until ?? 0) > t).length;
    return { value: e.value, ownerPending };
  }

  async close(): Promise<void> {
    this.#values.clear();
    this.#pending.clear();
    this.#owners.clear();
  }

  #liveValue(name: string): { value: string; until: number } | undefined {
    const e = this.#values.get(name);
    if (e && e.until <= this.#now()) {
      this.#values.delete(name);
      return undefined;
    }
    return e;
  }

  #putValue(name: string, value: string, ttlMs: number): void {
    this.#values.delete(name);
    // Bounded like sessions: a flood of abandoned sign-ins cannot grow memory without limit.
    for (const oldest of this.#values.keys()) {
      if (this.#values.size < this.#max) break;
      this.#values.delete(oldest);
    }
    this.#values.set(name, { value, until: this.#now() + ttlMs });
  }

  #dropPending(name: string): void {
    const e = this.#pending.get(name);
    if (!e) return;
    this.#pending.delete(name);
    const list = this.#owners.get(e.owner);
    if (!list) return;
    const i = list.indexOf(name);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.#owners.delete(e.owner);
  }
}
