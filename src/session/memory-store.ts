// In-process session store: one Map in insertion order = least recently used first, so the
// oldest-idle session is evicted when `maxSessions` is reached. For the demo and single-process
// deployments; not shared between replicas or workers.
import type { SessionRecord, SessionStore } from './store.ts';

interface Entry {
  record: SessionRecord;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  readonly maxSessions: number;
  readonly now?: () => number;
}

export function createMemoryStore(options: MemoryStoreOptions): SessionStore {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Entry>();
  const byUser = new Map<string, Set<string>>();
  const tombstones = new Map<string, number>();
  const listeners: Array<(keys: readonly string[] | undefined) => void> = [];

  const unindex = (key: string, user: string) => {
    const set = byUser.get(user);
    if (!set) return;
    set.delete(key);
    if (set.size === 0) byUser.delete(user);
  };
  const remove = (key: string): SessionRecord | undefined => {
    const e = sessions.get(key);
    if (!e) return undefined;
    sessions.delete(key);
    unindex(key, e.record.user);
    return e.record;
  };
  const live = (key: string): Entry | undefined => {
    const e = sessions.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now()) {
      remove(key);
      return undefined;
    }
    return e;
  };
  const notify = (keys: string[]) => {
    if (keys.length > 0) for (const l of listeners) l(keys);
  };
  const tombstone = (key: string, ms: number) => {
    tombstones.set(key, now() + ms);
    // Bound the tombstone map too: forget the oldest beyond the session limit.
    if (tombstones.size > options.maxSessions) tombstones.delete(tombstones.keys().next().value!);
  };

  return {
    kind: 'memory',
    shared: false,
    async get(key) {
      return live(key)?.record;
    },
    async set(key, record, ttlMs) {
      remove(key);
      while (sessions.size >= options.maxSessions) remove(sessions.keys().next().value!);
      sessions.set(key, { record, expiresAt: now() + ttlMs });
      let set = byUser.get(record.user);
      if (!set) byUser.set(record.user, (set = new Set()));
      set.add(key);
    },
    async touch(key, record, ttlMs) {
      const e = live(key);
      if (!e) return false;
      // Re-insert so the Map order stays least-recently-used first.
      sessions.delete(key);
      sessions.set(key, { record, expiresAt: now() + ttlMs });
      return true;
    },
    async revoke(key, tombstoneMs) {
      const existed = remove(key) !== undefined;
      tombstone(key, tombstoneMs);
      notify([key]);
      return existed;
    },
    async delete(key) {
      remove(key);
    },
    async wasRevoked(key) {
      const until = tombstones.get(key);
      if (until === undefined) return false;
      if (until <= now()) {
        tombstones.delete(key);
        return false;
      }
      return true;
    },
    async listByUser(user) {
      const out: Array<[string, SessionRecord]> = [];
      for (const key of byUser.get(user) ?? []) {
        const e = live(key);
        if (e) out.push([key, e.record]);
      }
      return out;
    },
    async revokeUser(user, tombstoneMs) {
      const keys = [...(byUser.get(user) ?? [])];
      for (const key of keys) {
        remove(key);
        tombstone(key, tombstoneMs);
      }
      notify(keys);
      return keys;
    },
    onRevoked(listener) {
      listeners.push(listener);
    },
    async ping() {},
    isReady: () => true,
    async close() {
      sessions.clear();
      byUser.clear();
      tombstones.clear();
    },
  };
}
