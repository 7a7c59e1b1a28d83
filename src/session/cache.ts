// The manager's two local caches, both bounded (about the least recently used forgotten first:
// lazy-lru.ts).
// SessionCache: a near cache in front of a shared store (Redis). Revocations and changes made by
// any replica are pushed to it (the store's notifications, revocation.ts), so while the store says
// its invalidation channel is live an entry is served for up to `pushedTtlMs` without a Redis
// round trip; when the channel is down (subscriber disconnected, no heartbeat answer) every entry
// falls back to the short `ttlMs` (1 s), as safe as before the channel existed. A read that raced
// an invalidation (a drop or clear while its GET was in flight) is not kept, and later lookups do
// not join it, so a revocation heard mid-read is never undone by a stale answer. The memory store
// is its own cache: no copy is kept in front of it.
// VerifiedCookies: cookie values whose MAC already verified, with their store key, because HMAC
// plus SHA-256 cost more than the rest of a cached lookup. Holds nothing the process does not know.
import { LazyLru } from './lazy-lru.ts';
import { sessionKey, type CookieCodec } from './cookie.ts';
import type { SessionRecord, SessionStore } from './store.ts';

export interface CacheOptions {
  /** Entries older than this are re-read from the store (always, and whenever the channel is down). */
  readonly ttlMs: number;
  /**
   * Entries fetched while the store's invalidation channel was live are served this long while it
   * still is; default `ttlMs` (no longer than without a channel).
   */
  readonly pushedTtlMs?: number;
  readonly max: number;
  readonly now: () => number;
}

interface Entry {
  readonly record: SessionRecord;
  readonly fetchedAt: number;
  /** Fetched (or written) while the channel was live with no invalidation in between. */
  readonly pushed: boolean;
}

export class SessionCache {
  readonly #store: SessionStore;
  readonly #options: CacheOptions;
  readonly #pushedTtlMs: number;
  readonly #entries: LazyLru<string, Entry> | undefined;
  /** Store reads in flight, by key, that cached reads may join. */
  readonly #reading = new Map<string, Promise<SessionRecord | undefined>>();
  /** Bumped by every drop and clear: a read that saw it change may have raced an invalidation. */
  #invalidations = 0;

  constructor(store: SessionStore, options: CacheOptions) {
    this.#store = store;
    this.#options = options;
    this.#pushedTtlMs = Math.max(options.ttlMs, options.pushedTtlMs ?? options.ttlMs);
    this.#entries = store.shared ? new LazyLru(options.max) : undefined;
  }

  /** The record, from the cache when `allowCache` and fresh, else from the store (then cached). */
  async read(key: string, allowCache: boolean): Promise<{ record: SessionRecord | undefined; cached: boolean }> {
    if (allowCache) {
      const record = this.fresh(key);
      if (record) return { record, cached: true };
    }
    // Concurrent misses on one session share one GET (no stampede when a hot entry expires).
    if (allowCache) {
      const pending = this.#reading.get(key);
      if (pending) return { record: await pending, cached: false };
    }
    const reading = this.#fetch(key);
    if (allowCache && !this.#reading.has(key)) {
      this.#reading.set(key, reading);
      const forget = () => {
        if (this.#reading.get(key) === reading) this.#reading.delete(key);
      };
      reading.then(forget, forget);
    }
    return { record: await reading, cached: false };
  }

  /** The cached record while it may be served without asking the store (read's hit); else undefined. */
  fresh(key: string): SessionRecord | undefined {
    const hit = this.#entries?.get(key);
    if (hit === undefined) return undefined;
    const age = this.#options.now() - hit.fetchedAt;
    if (age < this.#options.ttlMs || (hit.pushed && age < this.#pushedTtlMs && this.#store.invalidationLive())) return hit.record;
    return undefined;
  }

  async #fetch(key: string): Promise<SessionRecord | undefined> {
    const entries = this.#entries;
    const before = this.#invalidations;
    const liveBefore = this.#store.invalidationLive();
    const record = await this.#store.get(key);
    if (!record) this.drop(key);
    else if (entries && before === this.#invalidations) {
      // Raced an invalidation (maybe of this very session): answer, but keep no copy.
      const pushed = liveBefore && this.#store.invalidationLive();
      entries.set(key, { record, fetchedAt: this.#options.now(), pushed });
    }
    return record;
  }

  /** The cached copy whatever its age; undefined when there is none. */
  peek(key: string): SessionRecord | undefined {
    return this.#entries?.peek(key)?.record;
  }

  /** A record this process just wrote (create, update, renewal). */
  put(key: string, record: SessionRecord): void {
    if (this.#entries) {
      const pushed = this.#store.invalidationLive();
      this.#entries.set(key, { record, fetchedAt: this.#options.now(), pushed });
    }
  }

  /**
   * A renewal's copy (only lastSeenAt moved): replaces the record but keeps its age, so renewing
   * every idle_timeout / 10 never keeps a copy from being re-read once per TTL.
   */
  renewed(key: string, record: SessionRecord): void {
    const entry = this.#entries?.peek(key);
    if (!entry) this.put(key, record);
    else this.#entries!.replace(key, { ...entry, record });
  }

  drop(key: string): void {
    this.#invalidations++;
    this.#entries?.delete(key);
    // A read sent before the invalidation may answer with the old record: later lookups read anew.
    this.#reading.delete(key);
  }

  clear(): void {
    this.#invalidations++;
    this.#entries?.clear();
    this.#reading.clear();
  }

  /** Entries held now (bench, tests). */
  get size(): number {
    return this.#entries?.size ?? 0;
  }
}

export class VerifiedCookies {
  readonly #cookie: CookieCodec;
  readonly #keys: LazyLru<string, string>;

  constructor(cookie: CookieCodec, max: number) {
    this.#cookie = cookie;
    this.#keys = new LazyLru(max);
  }

  /** The store key of a cookie value; undefined when its MAC does not verify. */
  keyOf(cookieValue: string): string | undefined {
    const known = this.#keys.get(cookieValue);
    if (known !== undefined) return known;
    const id = this.#cookie.verify(cookieValue);
    if (id === undefined) return undefined;
    const key = sessionKey(id);
    this.#keys.set(cookieValue, key);
    return key;
  }

  clear(): void {
    this.#keys.clear();
  }
}
