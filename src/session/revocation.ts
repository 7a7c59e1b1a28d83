// How the end of a session reaches this process. The store notifies every process sharing it (this
// one included) with the revoked keys: each drops its cached copy and closes the session's live
// connections at once. After a reconnect, notifications may have been missed: the whole cache goes
// and every session holding live connections is checked again against the store. A session whose
// record changed elsewhere (refresh: new groups) only loses its cached copy.
import type { SessionCache } from './cache.ts';
import type { LiveRegistry } from './live.ts';
import type { SessionStore } from './store.ts';

export function followRevocations(store: SessionStore, cache: SessionCache, live: LiveRegistry): void {
  store.onRevoked((keys) => {
    if (keys !== undefined) {
      for (const key of keys) ended(cache, live, key);
      return;
    }
    cache.clear();
    live.recheckAll();
  });
  store.onChanged((keys) => {
    for (const key of keys) cache.drop(key);
  });
}

/** A session was revoked: forget it here and close its live connections. */
export function ended(cache: SessionCache, live: LiveRegistry, key: string): void {
  cache.drop(key);
  live.endSession(key, 'revoked');
}
