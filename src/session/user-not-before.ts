// A per-user "not before" for bearer tokens Gatehouse did not mint (IdP JWT access tokens): when
// every session of a user is revoked (`DELETE /admin/users/<user>/sessions`), tokens the IdP
// issued to that user before that moment are refused too, instead of working until their exp.
// The marker is a one-time value (every replica reads it; it lives MARK_TTL_MS, longer than IdP
// access tokens do), cached here for at most 1 s like sessions (cache.ts), and dropped at once
// on every replica through the store's revocation notifications: marking also "revokes" the
// marker's own name, which only this listener understands.
import { createHash } from 'node:crypto';
import { oneTimeName, type OneTimeStore } from './one-time.ts';
import type { SessionStore } from './store.ts';

/** How long a marker is kept: IdP access tokens live minutes to hours, never a day here. */
export const MARK_TTL_MS = 24 * 60 * 60_000;
const NOTIFY_PREFIX = 'nbf:';
const CACHE_MAX = 10_000;

export class UserNotBefore {
  readonly #store: SessionStore & OneTimeStore;
  readonly #now: () => number;
  readonly #cacheTtlMs: number;
  readonly #cache = new Map<string, { at: number | undefined; fetchedAt: number }>();

  constructor(store: SessionStore & OneTimeStore, now: () => number, cacheTtlMs: number) {
    this.#store = store;
    this.#now = now;
    // The memory store is one process: no copy is kept in front of it.
    this.#cacheTtlMs = store.shared ? cacheTtlMs : 0;
    store.onRevoked((keys) => {
      if (keys === undefined) this.#cache.clear();
      else for (const k of keys) if (k.startsWith(NOTIFY_PREFIX)) this.#cache.delete(k.slice(NOTIFY_PREFIX.length));
    });
  }

  /** From now on, `user`'s bearer tokens issued before this moment are refused (every replica). */
  async mark(user: string): Promise<void> {
    const id = userId(user);
    const at = this.#now();
    await this.#store.put(oneTimeName('user-nbf', id), String(at), MARK_TTL_MS);
    this.#cache.delete(id);
    await this.#store.revoke(`${NOTIFY_PREFIX}${id}`, 1);
  }

  /** Epoch ms before which `user`'s bearer tokens are refused; undefined when there is no marker. */
  async notBefore(user: string): Promise<number | undefined> {
    const id = userId(user);
    const hit = this.#cache.get(id);
    if (hit && this.#now() - hit.fetchedAt < this.#cacheTtlMs) return hit.at;
    const raw = await this.#store.peek(oneTimeName('user-nbf', id));
    const at = raw === undefined ? undefined : Number(raw);
    if (this.#cacheTtlMs > 0) {
      this.#cache.delete(id);
      if (this.#cache.size >= CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(id, { at, fetchedAt: this.#now() });
    }
    return at;
  }
}

const userId = (user: string) => createHash('sha256').update(user).digest('base64url');
