// Per-identity work (a route's identity headers, its signed assertion) done once per identity, not
// per request. Two tiers: by object, because a session record is one object while its session is
// cached, so a request pays one WeakMap lookup; then by content (user, email, name, idp, groups),
// because the same session is read again from the store every cache period, and 10,000 sessions
// round-robin are re-read on nearly every request: a fresh copy of a known identity finds its work
// again for the price of one JSON.stringify. The content tier is bounded (least recently used
// forgotten first), so memory stays at `max` entries however many users sign in.
import type { Identity } from './identity.ts';

/** Identities remembered by content, per memo (each route plan has one). */
export const IDENTITY_MEMO_MAX = 16_384;

export class IdentityMemo<V> {
  readonly #byObject = new WeakMap<Identity, V>();
  readonly #byContent = new Map<string, V>();
  readonly #max: number;

  constructor(max: number = IDENTITY_MEMO_MAX) {
    this.#max = Math.max(1, max);
  }

  /** The value for `id`, made by `make` the first time an identity with this content is seen. */
  get(id: Identity, make: (id: Identity) => V): V {
    let v = this.#byObject.get(id);
    if (v !== undefined) return v;
    const key = identityContent(id);
    v = this.#byContent.get(key);
    if (v === undefined) {
      v = make(id);
      if (this.#byContent.size >= this.#max) {
        const oldest = this.#byContent.keys().next();
        if (!oldest.done) this.#byContent.delete(oldest.value);
      }
    } else {
      // Re-inserted below as the most recently used.
      this.#byContent.delete(key);
    }
    this.#byContent.set(key, v);
    this.#byObject.set(id, v);
    return v;
  }

  /** Identities remembered by content (tests, memory statements). */
  get size(): number {
    return this.#byContent.size;
  }
}

/** Everything identity headers and the assertion are made of; equal strings, equal output. */
export function identityContent(id: Identity): string {
  return JSON.stringify([id.user, id.email ?? null, id.name ?? null, id.idp, id.groups]);
}
