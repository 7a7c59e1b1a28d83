// Sliding idle timeout without a store write per request: a session is renewed (lastSeenAt moved to
// now, store TTL extended) at most once per tenth of the idle timeout, in the background, one write
// in flight per session. Traffic on live connections (WebSockets, SSE) counts as use too, with a
// cheap early exit because socket frames arrive far more often than renewals are due.
import type { SessionCache } from './cache.ts';
import type { Expiry } from './expiry.ts';
import type { SessionRecord, SessionStore } from './store.ts';

export interface RenewalOptions {
  readonly now: () => number;
  /** Called when a background renewal fails (logging). */
  readonly onError: (err: unknown) => void;
}

export class Renewal {
  /** Renew when the record was last seen this long ago (a tenth of the idle timeout, ≥ 100 ms). */
  readonly everyMs: number;
  readonly #store: SessionStore;
  readonly #cache: SessionCache;
  readonly #expiry: Expiry;
  readonly #options: RenewalOptions;
  readonly #writing = new Set<string>();
  /** When live-connection traffic was last considered, per session with live connections. */
  readonly #lastActivity = new Map<string, number>();

  constructor(store: SessionStore, cache: SessionCache, expiry: Expiry, options: RenewalOptions) {
    this.everyMs = Math.max(100, Math.floor(expiry.idleMs / 10));
    this.#store = store;
    this.#cache = cache;
    this.#expiry = expiry;
    this.#options = options;
  }

  due(record: SessionRecord, at: number): boolean {
    return at - record.lastSeenAt >= this.everyMs;
  }

  /** The record as renewed at `at`, cached at once; the store write follows in the background. */
  renew(key: string, record: SessionRecord, at: number): SessionRecord {
    const renewed: SessionRecord = { ...record, lastSeenAt: at };
    this.#cache.renewed(key, renewed);
    if (this.#writing.has(key)) return renewed;
    this.#writing.add(key);
    this.#store.touch(key, renewed, this.#expiry.storeTtl(renewed, at)).then(
      (exists) => {
        this.#writing.delete(key);
        // Revoked or expired meanwhile: never serve the renewed copy.
        if (!exists) this.#cache.drop(key);
      },
      (err: unknown) => {
        this.#writing.delete(key);
        this.#options.onError(err);
      },
    );
    return renewed;
  }

  /**
   * Traffic on a live connection of `key`. With a cached copy, renew it when due; without one
   * (memory store, or evicted), `resolve` reads the session and renews it when due.
   */
  activity(key: string, resolve: (key: string) => Promise<unknown>): void {
    const at = this.#options.now();
    if (at - (this.#lastActivity.get(key) ?? 0) < this.everyMs) return;
    this.#lastActivity.set(key, at);
    const cached = this.#cache.peek(key);
    if (!cached) {
      void resolve(key).catch(this.#options.onError);
      return;
    }
    if (this.due(cached, at) && this.#expiry.why(cached, at) === undefined) this.renew(key, cached, at);
  }

  /** The session has no live connections any more. */
  forget(key: string): void {
    this.#lastActivity.delete(key);
  }

  clear(): void {
    this.#lastActivity.clear();
  }
}
