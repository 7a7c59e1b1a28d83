// In-process session store: one Map in insertion order = least recently used first, so the
// oldest-idle session is evicted when `maxSessions` is reached. For the demo and single-process
// deployments; not shared between replicas or workers. Also keeps one-time values (one-time.ts).
import type { OneTimeStore, PendingBounds, PendingResult } from './one-time.ts';
import { indexNames, type SessionRecord, type SessionStore } from './store.ts';

interface Entry {
  record: SessionRecord;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  readonly maxSessions: number;
  readonly now?: () => number;
}

export function createMemoryStore(options: MemoryStoreOptions): SessionStore & OneTimeStore {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Entry>();
  const indexes = new Map<string, Set<string>>();
  const tombstones = new Map<string, number>();
  // Ephemeral values and replay markers: value (or '' for markers) with its deadline.
  const ephemeral = new Map<string, { value: string; until: number }>();
  // Pending sign-ins: a capacity of their own (bounds.max), so a flood of anonymous sign-ins can
  // neither evict sessions nor other values, nor grow memory. Insertion order is expiry order
  // (one TTL for all), so expired ones are pruned from the front.
  const pending = new Map<string, { value: string; until: number; owner: string }>();
  const owners = new Map<string, string[]>();
  const listeners: Array<(keys: readonly string[] | undefined) => void> = [];

  const unindex = (key: string, record: SessionRecord) => {
    for (const name of indexNames(record)) {
      const set = indexes.get(name);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) indexes.delete(name);
    }
  };
  const remove = (key: string): SessionRecord | undefined => {
    const e = sessions.get(key);
    if (!e) return undefined;
    sessions.delete(key);
    unindex(key, e.record);
    return e.record;
  };
  /** Insert at the most-recently-used end, evicting the least recently used beyond the limit. */
  const put = (key: string, record: SessionRecord, ttlMs: number) => {
    remove(key);
    while (sessions.size >= options.maxSessions) remove(sessions.keys().next().value!);
    sessions.set(key, { record, expiresAt: now() + ttlMs });
    for (const name of indexNames(record)) {
      let set = indexes.get(name);
      if (!set) indexes.set(name, (set = new Set()));
      set.add(key);
    }
  };
  const liveEphemeral = (name: string) => {
    const e = ephemeral.get(name);
    if (e && e.until <= now()) {
      ephemeral.delete(name);
      return undefined;
    }
    return e;
  };
  const putEphemeral = (name: string, value: string, ttlMs: number) => {
    ephemeral.delete(name);
    // Bounded like sessions: a flood of abandoned sign-ins cannot grow memory without limit.
    while (ephemeral.size >= options.maxSessions) ephemeral.delete(ephemeral.keys().next().value!);
    ephemeral.set(name, { value, until: now() + ttlMs });
  };
  const dropPending = (name: string) => {
    const e = pending.get(name);
    if (!e) return;
    pending.delete(name);
    const list = owners.get(e.owner);
    if (!list) return;
    const i = list.indexOf(name);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) owners.delete(e.owner);
  };
  const putPending = (name: string, value: string, ttlMs: number, bounds: PendingBounds): PendingResult => {
    const t = now();
    for (const [n, e] of pending) {
      if (e.until > t) break;
      dropPending(n);
    }
    dropPending(name);
    if (pending.size >= bounds.max) {
      const first = pending.values().next().value!;
      return { ok: false, retryAfterMs: Math.max(1, first.until - t) };
    }
    pending.set(name, { value, until: t + ttlMs, owner: bounds.owner });
    let list = owners.get(bounds.owner);
    if (!list) owners.set(bounds.owner, (list = []));
    list.push(name);
    while (list.length > bounds.perOwner) dropPending(list[0]!);
    return { ok: true };
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
      put(key, record, ttlMs);
    },
    async touch(key, record, ttlMs) {
      const e = live(key);
      if (!e) return false;
      // Re-insert so the Map order stays least-recently-used first.
      put(key, record, ttlMs);
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
    async listIndex(name) {
      const out: Array<[string, SessionRecord]> = [];
      for (const key of [...(indexes.get(name) ?? [])]) {
        const e = live(key);
        if (e) out.push([key, e.record]);
      }
      return out;
    },
    async revokeIndex(name, tombstoneMs) {
      const keys = [...(indexes.get(name) ?? [])].filter((k) => live(k) !== undefined);
      for (const key of keys) {
        remove(key);
        tombstone(key, tombstoneMs);
      }
      notify(keys);
      return keys;
    },
    async put(name, value, ttlMs) {
      putEphemeral(name, value, ttlMs);
    },
    async take(name) {
      const e = liveEphemeral(name);
      ephemeral.delete(name);
      return e?.value;
    },
    async putPending(name, value, ttlMs, bounds) {
      return putPending(name, value, ttlMs, bounds);
    },
    async takePending(name) {
      const e = pending.get(name);
      dropPending(name);
      const t = now();
      if (!e || e.until <= t) return undefined;
      const ownerPending = (owners.get(e.owner) ?? []).filter((n) => (pending.get(n)?.until ?? 0) > t).length;
      return { value: e.value, ownerPending };
    },
    async once(name, ttlMs) {
      if (liveEphemeral(name)) return false;
      putEphemeral(name, '', ttlMs);
      return true;
    },
    onRevoked(listener) {
      listeners.push(listener);
    },
    async ping() {},
    isReady: () => true,
    async close() {
      sessions.clear();
      indexes.clear();
      tombstones.clear();
      ephemeral.clear();
      pending.clear();
      owners.clear();
    },
  };
}
