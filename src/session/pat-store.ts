// Personal access tokens at rest: a record per token, listed per user, found by its public id. The
// token itself is never stored — only the SHA-256 of the whole token (auth/bearer/pat.ts makes and
// checks them), so a copy of the store grants nothing. Apart from the session store on purpose:
// tokens outlive sessions and are revoked on their own. Implementations: createMemoryPatStore
// (one process) here, createRedisPatStore (shared by replicas) in pat-redis-store.ts;
// test/session/pat-store.contract.ts runs one suite against both. Nothing is cached above the
// store, so a revocation holds on every replica at the next request.

/** One personal access token, without the token. */
export interface PatRecord {
  /** Public id (in the token, in lists and admin paths): 16 hex digits. */
  readonly id: string;
  /** SHA-256 (base64url) of the whole token. */
  readonly hash: string;
  /** The token's name, chosen by its owner. */
  readonly name: string;
  readonly user: string;
  readonly email?: string | undefined;
  readonly displayName?: string | undefined;
  /** Groups captured at creation (tokens.pat.recheck_groups may use the user's current ones). */
  readonly groups: readonly string[];
  readonly idp: string;
  /** Route names the token may reach. */
  readonly routes: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Who created it: 'user' (the token page) or 'admin' (the admin API). */
  readonly createdBy: 'user' | 'admin';
}

/** A record as listed: with when it was last used (epoch ms), when known. */
export interface ListedPat extends PatRecord {
  readonly lastUsedAt: number | undefined;
}

export interface PatStore {
  /** 'memory' or 'redis'. */
  readonly kind: string;
  /** Keep `record` until its expiresAt; indexed under its user. */
  put(record: PatRecord): Promise<void>;
  /** The live record with this id (undefined when unknown, revoked or expired). */
  get(id: string): Promise<PatRecord | undefined>;
  /** A user's live tokens, oldest first. */
  listUser(user: string): Promise<ListedPat[]>;
  /** Every live token, oldest first (admin listing). */
  listAll(): Promise<ListedPat[]>;
  /** Delete one token; the record it was, or undefined when there was none. */
  revoke(id: string): Promise<PatRecord | undefined>;
  /** Delete every token of a user; the records deleted. */
  revokeUser(user: string): Promise<PatRecord[]>;
  /** Remember that the token was used at `atMs` (kept while the token lives). */
  markUsed(id: string, atMs: number): Promise<void>;
  /**
   * Count one creation by `user` in the current window of `windowMs` and return how many there
   * were in it, this one included (shared by every replica of a shared store).
   */
  countCreation(user: string, windowMs: number): Promise<number>;
  close(): Promise<void>;
}

const byCreation = (a: PatRecord, b: PatRecord) => a.createdAt - b.createdAt || a.id.localeCompare(b.id);

/** An in-process store (one replica, tests, the demo). */
export function createMemoryPatStore(now: () => number = Date.now): PatStore {
  const records = new Map<string, PatRecord>();
  const used = new Map<string, number>();
  const creations = new Map<string, { count: number; until: number }>();
  const live = (r: PatRecord | undefined) => (r !== undefined && r.expiresAt > now() ? r : undefined);
  const drop = (id: string) => {
    records.delete(id);
    used.delete(id);
  };
  const sweep = () => {
    for (const [id, r] of records) if (!live(r)) drop(id);
  };
  const listed = (r: PatRecord): ListedPat => ({ ...r, lastUsedAt: used.get(r.id) });
  return {
    kind: 'memory',
    async put(record) {
      sweep();
      records.set(record.id, record);
    },
    async get(id) {
      const r = live(records.get(id));
      if (!r) drop(id);
      return r;
    },
    async listUser(user) {
      sweep();
      return [...records.values()]
        .filter((r) => r.user === user)
        .sort(byCreation)
        .map(listed);
    },
    async listAll() {
      sweep();
      return [...records.values()].sort(byCreation).map(listed);
    },
    async revoke(id) {
      const r = live(records.get(id));
      drop(id);
      return r;
    },
    async revokeUser(user) {
      sweep();
      const mine = [...records.values()].filter((r) => r.user === user);
      for (const r of mine) drop(r.id);
      return mine;
    },
    async markUsed(id, atMs) {
      if (records.has(id)) used.set(id, atMs);
    },
    async countCreation(user, windowMs) {
      const t = now();
      const c = creations.get(user);
      if (!c || c.until <= t) {
        // Bounded: expired windows go before a new one starts.
        for (const [u, w] of creations) if (w.until <= t) creations.delete(u);
        creations.set(user, { count: 1, until: t + windowMs });
        return 1;
      }
      c.count += 1;
      return c.count;
    },
    async close() {},
  };
}
