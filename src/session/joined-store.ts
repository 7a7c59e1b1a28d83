// A backend is two stores over one connection (or one process's memory): session records
// (store.ts) and one-time values (one-time.ts). Callers get one object with both interfaces whose
// methods do not depend on `this`, so they can be passed around, and the object wrapped
// (Object.create) or spread, as with any plain object.
import type { OneTimeStore } from './one-time.ts';
import type { SessionStore } from './store.ts';

/** The one-time half of a backend: closed with the sessions half (they share what they hold). */
export interface ClosableOneTimeStore extends OneTimeStore {
  close(): Promise<void>;
}

export function joinStores(sessions: SessionStore, oneTime: ClosableOneTimeStore): SessionStore & OneTimeStore {
  return {
    kind: sessions.kind,
    shared: sessions.shared,
    get: (key) => sessions.get(key),
    set: (key, record, ttlMs) => sessions.set(key, record, ttlMs),
    touch: (key, record, ttlMs) => sessions.touch(key, record, ttlMs),
    revoke: (key, tombstoneMs) => sessions.revoke(key, tombstoneMs),
    delete: (key) => sessions.delete(key),
    wasRevoked: (key) => sessions.wasRevoked(key),
    scan: (cursor, count) => sessions.scan(cursor, count),
    deleteIfUnchanged: (key, record) => sessions.deleteIfUnchanged(key, record),
    listIndex: (name) => sessions.listIndex(name),
    revokeIndex: (name, tombstoneMs) => sessions.revokeIndex(name, tombstoneMs),
    onRevoked: (listener) => sessions.onRevoked(listener),
    announceChanged: (keys) => sessions.announceChanged(keys),
    onChanged: (listener) => sessions.onChanged(listener),
    invalidationLive: () => sessions.invalidationLive(),
    ping: () => sessions.ping(),
    isReady: () => sessions.isReady(),
    put: (name, value, ttlMs) => oneTime.put(name, value, ttlMs),
    take: (name) => oneTime.take(name),
    peek: (name) => oneTime.peek(name),
    once: (name, ttlMs) => oneTime.once(name, ttlMs),
    putPending: (name, value, ttlMs, bounds) => oneTime.putPending(name, value, ttlMs, bounds),
    takePending: (name) => oneTime.takePending(name),
    close: async () => {
      await oneTime.close();
      await sessions.close();
    },
  };
}
