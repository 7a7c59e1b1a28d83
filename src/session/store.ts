// The session store contract: a dumb, keyed record store with TTLs, secondary indexes, tombstones,
// revocation notifications and readiness. Cookies, hashing, timeouts, caching and encryption live
// above it, in manager.ts, so a backend only has to store and forget. Single-use values (pending
// sign-ins, replay markers) are the other interface a backend implements: one-time.ts.
// Implementations: memory-store.ts (one process), redis-store.ts (shared).
// test/session/store.contract.ts runs the same suite against both.

export type { SessionRecord } from '../identity/session-record.ts';
import type { SessionRecord } from '../identity/session-record.ts';

/** Index names a record is listed under; stores keep one set of session keys per name. */
export function indexNames(r: SessionRecord): string[] {
  const names = [userIndex(r.user)];
  if (r.subject !== undefined) names.push(subjectIndex(r.idp, r.subject));
  if (r.idpSession !== undefined) names.push(idpSessionIndex(r.idp, r.idpSession));
  return names;
}

export const userIndex = (user: string) => `user:${user}`;
export const subjectIndex = (idp: string, subject: string) => `sub:${idp}:${subject}`;
export const idpSessionIndex = (idp: string, sid: string) => `sid:${idp}:${sid}`;

/** Why a session ended, as far as the store knows. */
export type EndReason = 'revoked';

export interface SessionStore {
  /** 'memory' or 'redis'; shown in logs and readiness checks. */
  readonly kind: string;
  /**
   * True when the store is shared with other processes, so the manager may keep a local cache and
   * must rely on `onRevoked` to drop entries revoked elsewhere.
   */
  readonly shared: boolean;

  get(key: string): Promise<SessionRecord | undefined>;
  /** Create or replace; indexes `key` under every name of indexNames(record). `ttlMs` > 0. */
  set(key: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /** Replace an existing record and its TTL; false (and nothing written) when it no longer exists. */
  touch(key: string, record: SessionRecord, ttlMs: number): Promise<boolean>;
  /** Delete and remember the key as revoked until `tombstoneMs`; notifies every process. */
  revoke(key: string, tombstoneMs: number): Promise<boolean>;
  /** Delete without a tombstone (expiry found by the manager). */
  delete(key: string): Promise<void>;
  /** True when `key` was revoked (not merely expired) recently. */
  wasRevoked(key: string): Promise<boolean>;
  /**
   * One step of a walk over every session record (the sweeper, manager.ts sweepEnded): start with
   * cursor '0'; the walk is over when the cursor returned is '0' again. A step looks at about
   * `count` records; records written or deleted meanwhile may be seen or not.
   */
  scan(cursor: string, count: number): Promise<{ cursor: string; entries: Array<[string, SessionRecord]> }>;
  /**
   * Delete a record (and its index entries) only while it is still the one `scan` returned: true
   * for the one call that deleted it, so two replicas sweeping at once never both report it.
   */
  deleteIfUnchanged(key: string, record: SessionRecord): Promise<boolean>;
  /** Live sessions listed under an index name (see indexNames), key with record. */
  listIndex(name: string): Promise<Array<[string, SessionRecord]>>;
  /** Revoke every session listed under an index name; returns the revoked keys. */
  revokeIndex(name: string, tombstoneMs: number): Promise<string[]>;
  /**
   * Called with keys revoked by any process sharing the store (this one included). Called with
   * `undefined` when notifications may have been missed (reconnect): drop every cached session.
   */
  onRevoked(listener: (keys: readonly string[] | undefined) => void): void;
  /**
   * Tell every process sharing the store that these sessions' records changed (a refresh replaced
   * identity or groups): each drops its cached copy. A no-op for a store that is not shared.
   */
  announceChanged(keys: readonly string[]): Promise<void>;
  /** Called with keys whose records changed in any process sharing the store (this one included). */
  onChanged(listener: (keys: readonly string[]) => void): void;
  /**
   * True while this process is known to hear every notification above: subscribed, and the channel
   * answered a heartbeat recently (so a silent, paused or cut connection turns it false within about
   * a second). A cache may keep entries for longer than its short TTL only while it holds. Cheap (no I/O).
   * Always true for a store that is not shared (nothing to hear).
   */
  invalidationLive(): boolean;
  /**
   * A round trip to the store (readiness): resolves when it answered within the store's command
   * timeout, rejects with GH_STORE_UNAVAILABLE otherwise — also when a connection is open but
   * nothing answers (a paused or overloaded server). Never answered from a cache.
   */
  ping(): Promise<void>;
  /**
   * True when a command would be attempted now (cheap, no I/O). Not readiness: an open connection
   * says nothing about whether the server answers (use ping()).
   */
  isReady(): boolean;
  /** Close the backend, its one-time values included (they share its connections). */
  close(): Promise<void>;
}
