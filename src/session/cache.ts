// The manager's two local caches, both bounded (oldest entry forgotten first).
// SessionCache: a read-through cache in front of a shared store (Redis), so a burst of requests on
// one session costs one GET per `ttlMs`; revocations elsewhere reach it through the store's
// notifications (revocation.ts). The memory store is its own cache: no copy is kept in front of it.
// VerifiedCookies: cookie values whose MAC already verified, with their store key, because HMAC
// plus SHA-256 cost more than the rest of a cached lookup. Holds nothing the process does not know.
import { sessionKey, type CookieCodec } from './cookie.ts';
import type { SessionRecord, SessionStore } from './store.ts';

export interface CacheOptions {
  /** Entries older than this are re-read from the store. */
  readonly ttlMs: number;
  readonly max: number;
  readonly now: () => number;
}

/** Insert `key` at the newest end of an insertion-ordered map, forgetting the oldest beyond `max`. */
function putBounded<V>(map: Map<string, V>, max: number, key: string, value: V): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}

export class SessionCache {
  readonly #store: SessionStore;
  readonly #options: CacheOptions;
  readonly #entries: Map<string, { record: SessionRecord; fetchedAt: number }> | undefined;

  constructor(store: SessionStore, options: CacheOptions) {
    this.#store = store;
    this.#options = options;
    this.#entries = store.shared ? new Map() : undefined;
  }

  /** The record, from the cache when `allowCache` and fresh, else from the store (then cached). */
  async read(key: string, allowCache: boolean): Promise<{ record: SessionRecord | undefined; cached: boolean }> {
    const hit = allowCache ? this.#entries?.get(key) : undefined;
    if (hit && this.#options.now() - hit.fetchedAt < this.#options.ttlMs) return { record: hit.record, cached: true };
    const record = await this.#store.get(key);
    if (record) this.put(key, record);
    else this.drop(key);
    return { record, cached: false };
  }

  /** The cached copy whatever its age; undefined when there is none. */
  peek(key: string): SessionRecord | undefined {
    return this.#entries?.get(key)?.record;
  }

  put(key: string, record: SessionRecord): void {
    if (this.#entries) putBounded(this.#entries, this.#options.max, key, { record, fetchedAt: this.#options.now() });
  }

  drop(key: string): void {
    this.#entries?.delete(key);
  }

  clear(): void {
    this.#entries?.clear();
  }
}

export class VerifiedCookies {
  readonly #cookie: CookieCodec;
  readonly #max: number;
  readonly #keys = new Map<string, string>();

  constructor(cookie: CookieCodec, max: number) {
    this.#cookie = cookie;
    this.#max = max;
  }

  /** The store key of a cookie value; undefined when its MAC does not verify. */
  keyOf(cookieValue: string): string | undefined {
    const known = this.#keys.get(cookieValue);
    if (known !== undefined) return known;
    const id = this.#cookie.verify(cookieValue);
    if (id === undefined) return undefined;
    const key = sessionKey(id);
    putBounded(this.#keys, this.#max, cookieValue, key);
    return key;
  }

  clear(): void {
    this.#keys.clear();
  }
}
