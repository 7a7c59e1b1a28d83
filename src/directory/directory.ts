// The directory: users and groups provisioned by the IdP (SCIM, scim/*.ts) or changed by its
// signals (Shared Signals), kept in the session store's backend (kv.ts) so every replica sees the
// same. Per request, identity resolution asks `state(user)`: is the user known here, active, and in
// which groups — answered from a per-process cache, dropped at once by the change notifications
// every write publishes. As the session near cache (session/cache.ts): while the backend says its
// notification channel is live, an entry (a user's state, or "unknown here") is served for
// `cachePushedTtlMs` (session.cache.ttl) without a Redis read; otherwise for `cacheTtlMs` (1 s).
//
// Layout (keys under the backend's prefix, e.g. "gatehouse:d:"):
//   u:<id>            user (JSON DirectoryUser)        users        set of user ids
//   ui:user:<user>    id by Gatehouse user (lower-case) ui:name:<userName, lower-case>  ui:ext:<externalId>
//   g:<id>            group (JSON DirectoryGroup)      groups       set of group ids
//   gi:name:<name>    id by displayName (lower-case)   gi:ext:<externalId>
//   mo:<user id>      set of group ids the user is a member of
import { randomUUID } from 'node:crypto';
import type { DirectoryKv } from './kv.ts';

export interface DirectoryEmail {
  readonly value: string;
  readonly primary?: boolean | undefined;
  readonly type?: string | undefined;
}

export interface DirectoryUser {
  readonly id: string;
  /** The Gatehouse `user` value this entry governs (scim.user_key decides where it comes from). */
  readonly user: string;
  readonly userName: string;
  readonly externalId?: string | undefined;
  readonly active: boolean;
  readonly displayName?: string | undefined;
  readonly name?: Readonly<Record<string, string>> | undefined;
  readonly emails?: readonly DirectoryEmail[] | undefined;
  /** 'scim' when provisioned; 'signal' for an entry made by setActive for a user SCIM never sent. */
  readonly source: 'scim' | 'signal';
  readonly created: string;
  readonly lastModified: string;
  readonly version: number;
}

export interface DirectoryGroup {
  readonly id: string;
  readonly displayName: string;
  readonly externalId?: string | undefined;
  /** Member user ids. */
  readonly members: readonly string[];
  readonly created: string;
  readonly lastModified: string;
  readonly version: number;
}

/** What the directory says of one Gatehouse user, per request. */
export type UserState =
  | { readonly known: false }
  | { readonly known: true; readonly id: string; readonly active: boolean; readonly groups: readonly string[] };

export type UserFields = Omit<DirectoryUser, 'id' | 'created' | 'lastModified' | 'version' | 'source'>;
export type GroupFields = Omit<DirectoryGroup, 'id' | 'created' | 'lastModified' | 'version'>;

/** One change, reported once written (the runtime turns it into an audit record). */
export interface DirectoryChange {
  readonly kind:
    | 'user_created'
    | 'user_updated'
    | 'user_deactivated'
    | 'user_reactivated'
    | 'user_deleted'
    | 'group_created'
    | 'group_updated'
    | 'group_deleted'
    | 'group_membership_changed';
  /** Who asked: the SCIM client ("scim"), a Shared Signals transmitter, the admin. */
  readonly actor: string;
  readonly user?: string | undefined;
  readonly group?: string | undefined;
  /** group_membership_changed: Gatehouse users added and removed. */
  readonly added?: readonly string[] | undefined;
  readonly removed?: readonly string[] | undefined;
}

export type UserFilter = { readonly attr: 'userName' | 'externalId' | 'user' | 'id'; readonly value: string };
export type GroupFilter = { readonly attr: 'displayName' | 'externalId' | 'id'; readonly value: string };

export interface Directory {
  readonly kind: 'memory' | 'redis';
  /** The entry governing Gatehouse user `user` (case-insensitive), if any. */
  getUser(user: string): Promise<DirectoryUser | undefined>;
  getUserById(id: string): Promise<DirectoryUser | undefined>;
  findUsers(filter?: UserFilter): Promise<DirectoryUser[]>;
  /** Create (no `id`) or replace (with `id`); throws DirectoryConflict when another entry holds its user/userName. */
  upsertUser(fields: UserFields, actor: string, id?: string): Promise<{ user: DirectoryUser; created: boolean }>;
  /** Change only `active` (creates a 'signal' entry for an unknown user when deactivating). */
  setActive(user: string, active: boolean, actor: string): Promise<DirectoryUser | undefined>;
  deleteUser(id: string, actor: string): Promise<DirectoryUser | undefined>;
  /** Group names of a user known to the directory; undefined when it does not know the user. */
  groupsOf(user: string): Promise<string[] | undefined>;
  /** The groups a user (by directory id) is a member of. */
  memberOf(id: string): Promise<DirectoryGroup[]>;
  getGroup(id: string): Promise<DirectoryGroup | undefined>;
  findGroups(filter?: GroupFilter): Promise<DirectoryGroup[]>;
  upsertGroup(fields: GroupFields, actor: string, id?: string): Promise<{ group: DirectoryGroup; created: boolean }>;
  deleteGroup(id: string, actor: string): Promise<DirectoryGroup | undefined>;
  /** Per-request answer, cached (cacheTtlMs, or cachePushedTtlMs while the channel is live; dropped on any change notification). */
  state(user: string): Promise<UserState>;
  /** Resolves once change notifications from other replicas are received. */
  listening(): Promise<void>;
  /**
   * Run `fn` while holding resource `id` across every replica (a read-modify-write such as a SCIM
   * PATCH must not lose a concurrent one). Waits a bounded time; then throws DirectoryBusy.
   */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export class DirectoryConflict extends Error {}
export class DirectoryBusy extends Error {}

export interface DirectoryOptions {
  readonly kv: DirectoryKv;
  readonly onChange?: (c: DirectoryChange) => void;
  /** Entries older than this are re-read (always, and whenever the channel is down). Default 1 s. */
  readonly cacheTtlMs?: number;
  /** ...and while the notification channel is live, this long. Default `cacheTtlMs`. */
  readonly cachePushedTtlMs?: number;
  /** Entries kept, least recently used forgotten first. */
  readonly cacheMax?: number;
  readonly now?: () => number;
}

const lower = (s: string) => s.toLowerCase();

export function createDirectory(options: DirectoryOptions): Directory {
  const { kv } = options;
  const now = options.now ?? Date.now;
  const ttl = options.cacheTtlMs ?? 1000;
  const pushedTtl = Math.max(ttl, options.cachePushedTtlMs ?? ttl);
  const cacheMax = Math.max(1, options.cacheMax ?? 10_000);
  const onChange = options.onChange ?? (() => {});
  // `pushed`: read while the channel was live, so any later change is announced to this process.
  const cache = new Map<string, { state: UserState; at: number; pushed: boolean }>();
  // Bumped by every change seen: a read that a change overtook is answered but not cached.
  let generation = 0;
  kv.onMessage((m) => {
    generation++;
    if (m === undefined) return cache.clear();
    try {
      const users: unknown = JSON.parse(m);
      if (!Array.isArray(users)) return cache.clear();
      for (const u of users) if (typeof u === 'string') cache.delete(lower(u));
    } catch {
      cache.clear();
    }
  });
  const changed = async (users: Iterable<string>) => {
    const list = [...new Set([...users].map(lower))];
    generation++;
    for (const u of list) cache.delete(u);
    if (list.length > 0) await kv.publish(JSON.stringify(list));
  };

  const readJson = async <T>(key: string): Promise<T | undefined> => {
    const s = await kv.get(key);
    if (s === undefined) return undefined;
    try {
      return JSON.parse(s) as T;
    } catch {
      return undefined;
    }
  };
  const userById = (id: string) => readJson<DirectoryUser>(`u:${id}`);
  const groupById = (id: string) => readJson<DirectoryGroup>(`g:${id}`);
  const idOfUser = (user: string) => kv.get(`ui:user:${lower(user)}`);
  const getUser = async (user: string) => {
    const id = await idOfUser(user);
    return id === undefined ? undefined : userById(id);
  };
  const allUsers = async () => (await Promise.all((await kv.smembers('users')).map(userById))).filter((u) => u !== undefined);
  const allGroups = async () => (await Promise.all((await kv.smembers('groups')).map(groupById))).filter((g) => g !== undefined);
  const groupNamesOf = async (id: string) =>
    (await Promise.all((await kv.smembers(`mo:${id}`)).map(groupById))).flatMap((g) => (g ? [g.displayName] : [])).sort();

  const userIndexes = (u: DirectoryUser) => [
    `ui:user:${lower(u.user)}`,
    `ui:name:${lower(u.userName)}`,
    ...(u.externalId ? [`ui:ext:${u.externalId}`] : []),
  ];
  const groupIndexes = (g: DirectoryGroup) => [`gi:name:${lower(g.displayName)}`, ...(g.externalId ? [`gi:ext:${g.externalId}`] : [])];

  /** Index keys must name this id or nothing; another id there is a conflict (SCIM 409 uniqueness). */
  const checkFree = async (keys: string[], id: string | undefined) => {
    for (const key of keys) {
      const holder = await kv.get(key);
      if (holder !== undefined && holder !== id) throw new DirectoryConflict(`${key.split(':')[1]} already in use`);
    }
  };
  const writeIndexes = async (before: string[], after: string[], id: string) => {
    await Promise.all(before.filter((k) => !after.includes(k)).map((k) => kv.del(k)));
    await Promise.all(after.map((k) => kv.set(k, id)));
  };

  const writeUser = async (u: DirectoryUser, previous: DirectoryUser | undefined) => {
    await kv.set(`u:${u.id}`, JSON.stringify(u));
    await writeIndexes(previous ? userIndexes(previous) : [], userIndexes(u), u.id);
    await kv.sadd('users', u.id);
  };

  const dir: Directory = {
    kind: kv.kind,
    getUser,
    getUserById: userById,
    async findUsers(filter) {
      if (!filter) return (await allUsers()).sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
      if (filter.attr === 'id') return [await userById(filter.value)].filter((u) => u !== undefined);
      const key =
        filter.attr === 'user'
          ? `ui:user:${lower(filter.value)}`
          : filter.attr === 'userName'
            ? `ui:name:${lower(filter.value)}`
            : `ui:ext:${filter.value}`;
      const id = await kv.get(key);
      return id === undefined ? [] : [await userById(id)].filter((u) => u !== undefined);
    },
    async upsertUser(fields, actor, id) {
      const previous = id === undefined ? undefined : await userById(id);
      if (id !== undefined && !previous) throw new DirectoryConflict('no such user');
      const at = new Date(now()).toISOString();
      // A 'signal' entry (deactivated before SCIM knew the user) is taken over by the first create.
      const stub = previous === undefined ? await getUser(fields.user) : undefined;
      const base = previous ?? (stub?.source === 'signal' ? stub : undefined);
      const next: DirectoryUser = {
        ...fields,
        id: base?.id ?? randomUUID(),
        source: 'scim',
        created: base?.created ?? at,
        lastModified: at,
        version: (base?.version ?? 0) + 1,
      };
      await checkFree(userIndexes(next), next.id);
      await writeUser(next, base);
      await changed(base && lower(base.user) !== lower(next.user) ? [base.user, next.user] : [next.user]);
      if (!previous) onChange({ kind: 'user_created', actor, user: next.user });
      else onChange({ kind: 'user_updated', actor, user: next.user });
      if (base && base.active !== next.active)
        onChange({ kind: next.active ? 'user_reactivated' : 'user_deactivated', actor, user: next.user });
      else if (!base && !next.active) onChange({ kind: 'user_deactivated', actor, user: next.user });
      return { user: next, created: previous === undefined };
    },
    async setActive(user, active, actor) {
      const previous = await getUser(user);
      if (!previous && active) return undefined;
      if (previous && previous.active === active) {
        // Announced again: a retry after a write whose announcement failed must still reach every cache.
        await changed([previous.user]);
        return previous;
      }
      const at = new Date(now()).toISOString();
      const next: DirectoryUser = previous
        ? { ...previous, active, lastModified: at, version: previous.version + 1 }
        : { id: randomUUID(), user, userName: user, active, source: 'signal', created: at, lastModified: at, version: 1 };
      await writeUser(next, previous);
      await changed([user]);
      onChange({ kind: active ? 'user_reactivated' : 'user_deactivated', actor, user: next.user });
      return next;
    },
    async deleteUser(id, actor) {
      const u = await userById(id);
      if (!u) return undefined;
      for (const gid of await kv.smembers(`mo:${id}`)) {
        // Under the group's lock: a concurrent PATCH of that group must not write the member back.
        await dir.exclusive(`g:${gid}`, async () => {
          const g = await groupById(gid);
          if (g) await kv.set(`g:${gid}`, JSON.stringify({ ...g, members: g.members.filter((m) => m !== id) }));
        });
      }
      await kv.del(`mo:${id}`);
      await Promise.all(userIndexes(u).map((k) => kv.del(k)));
      await kv.srem('users', id);
      await kv.del(`u:${id}`);
      await changed([u.user]);
      onChange({ kind: 'user_deleted', actor, user: u.user });
      return u;
    },
    async groupsOf(user) {
      const id = await idOfUser(user);
      return id === undefined ? undefined : groupNamesOf(id);
    },
    async memberOf(id) {
      return (await Promise.all((await kv.smembers(`mo:${id}`)).map(groupById))).filter((g) => g !== undefined);
    },
    getGroup: groupById,
    async findGroups(filter) {
      if (!filter) return (await allGroups()).sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
      if (filter.attr === 'id') return [await groupById(filter.value)].filter((g) => g !== undefined);
      const id = await kv.get(filter.attr === 'displayName' ? `gi:name:${lower(filter.value)}` : `gi:ext:${filter.value}`);
      return id === undefined ? [] : [await groupById(id)].filter((g) => g !== undefined);
    },
    async upsertGroup(fields, actor, id) {
      const previous = id === undefined ? undefined : await groupById(id);
      if (id !== undefined && !previous) throw new DirectoryConflict('no such group');
      const at = new Date(now()).toISOString();
      // Members must be users the directory knows; unknown ids are dropped (SCIM clients add
      // members they provisioned first).
      const members = [...new Set(fields.members)];
      const memberUsers = new Map<string, DirectoryUser>();
      for (const m of members) {
        const u = await userById(m);
        if (u) memberUsers.set(m, u);
      }
      const next: DirectoryGroup = {
        ...fields,
        members: members.filter((m) => memberUsers.has(m)),
        id: previous?.id ?? randomUUID(),
        created: previous?.created ?? at,
        lastModified: at,
        version: (previous?.version ?? 0) + 1,
      };
      await checkFree(groupIndexes(next), next.id);
      await kv.set(`g:${next.id}`, JSON.stringify(next));
      await writeIndexes(previous ? groupIndexes(previous) : [], groupIndexes(next), next.id);
      await kv.sadd('groups', next.id);
      const before = new Set(previous?.members ?? []);
      const after = new Set(next.members);
      const added = next.members.filter((m) => !before.has(m));
      const removed = [...before].filter((m) => !after.has(m));
      await Promise.all([...added.map((m) => kv.sadd(`mo:${m}`, next.id)), ...removed.map((m) => kv.srem(`mo:${m}`, next.id))]);
      const removedUsers = (await Promise.all(removed.map(userById))).filter((u) => u !== undefined);
      const renamed = previous !== undefined && previous.displayName !== next.displayName;
      // A rename changes every member's groups; otherwise only those who joined or left.
      const affected = renamed ? [...memberUsers.values(), ...removedUsers] : [...added.map((m) => memberUsers.get(m)!), ...removedUsers];
      await changed(affected.map((u) => u.user));
      onChange({ kind: previous ? 'group_updated' : 'group_created', actor, group: next.displayName });
      if (added.length > 0 || removed.length > 0)
        onChange({
          kind: 'group_membership_changed',
          actor,
          group: next.displayName,
          added: added.map((m) => memberUsers.get(m)!.user),
          removed: removedUsers.map((u) => u.user),
        });
      return { group: next, created: previous === undefined };
    },
    async deleteGroup(id, actor) {
      const g = await groupById(id);
      if (!g) return undefined;
      const members = (await Promise.all(g.members.map(userById))).filter((u) => u !== undefined);
      await Promise.all(g.members.map((m) => kv.srem(`mo:${m}`, id)));
      await Promise.all(groupIndexes(g).map((k) => kv.del(k)));
      await kv.srem('groups', id);
      await kv.del(`g:${id}`);
      await changed(members.map((u) => u.user));
      onChange({ kind: 'group_deleted', actor, group: g.displayName, removed: members.map((u) => u.user) });
      return g;
    },
    async state(user) {
      const key = lower(user);
      const hit = cache.get(key);
      if (hit) {
        const age = now() - hit.at;
        if (age < ttl || (hit.pushed && age < pushedTtl && kv.invalidationLive())) {
          // Least recently used goes first: move the hit to the newest end.
          cache.delete(key);
          cache.set(key, hit);
          return hit.state;
        }
      }
      const seen = generation;
      const liveBefore = kv.invalidationLive();
      const u = await getUser(user);
      const state: UserState = u ? { known: true, id: u.id, active: u.active, groups: await groupNamesOf(u.id) } : { known: false };
      // Raced a change (maybe of this very user): answer, but keep no copy.
      if (seen !== generation) return state;
      cache.delete(key);
      if (cache.size >= cacheMax) cache.delete(cache.keys().next().value!);
      cache.set(key, { state, at: now(), pushed: liveBefore && kv.invalidationLive() });
      return state;
    },
    listening: () => kv.listening(),
    async exclusive(id, fn) {
      const token = randomUUID();
      // Bounded: about 5 s of 25 ms waits; a holder that died frees the lock after 10 s.
      for (let attempt = 0; !(await kv.tryLock(id, token, 10_000)); attempt++) {
        if (attempt >= 200) throw new DirectoryBusy(`resource ${id} is being changed by another request`);
        await new Promise((r) => setTimeout(r, 25));
      }
      try {
        return await fn();
      } finally {
        await kv.unlock(id, token).catch(() => {});
      }
    },
    close: () => kv.close(),
  };
  return dir;
}
