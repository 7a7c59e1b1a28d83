// Session lifecycle above a dumb SessionStore: create (always a new id), look up (idle and absolute
// timeouts, renewal), update after a refresh, revoke, list. This file composes the parts, each of
// which keeps its own state: cookie.ts (ids, cookie MAC), cache.ts (local caches), expiry.ts
// (timeouts), renewal.ts (throttled sliding renewal), tokens.ts (sealed IdP tokens), csrf.ts,
// live.ts (live connections closed when their session ends), revocation.ts (other replicas' ends).
import type { SessionConfig } from '../config/types.ts';
import type { Secret } from '../config/secret.ts';
import { createCookieCodec, sessionKey, type CookieCodec } from './cookie.ts';
import { SessionCache, VerifiedCookies } from './cache.ts';
import { CsrfTokens } from './csrf.ts';
import { Expiry, type ExpiredWhy } from './expiry.ts';
import { deriveKey } from './keys.ts';
import { createLiveRegistry, patLiveKey, type LiveConnection, type LiveRegistry } from './live.ts';
import {
  createPendingLogins,
  createReplayGuard,
  oneTimeName,
  type OneTimeStore,
  type PendingLogins,
  type ReplayGuard,
} from './one-time.ts';
import { Renewal } from './renewal.ts';
import { ended, followRevocations } from './revocation.ts';
import { TokenSealer } from './tokens.ts';
import { UserNotBefore } from './user-not-before.ts';
import { idpSessionIndex, subjectIndex, userIndex, type SessionRecord, type SessionStore } from './store.ts';

/** session.cache defaults, when the config leaves them out. */
export const DEFAULT_CACHE = { maxEntries: 50_000, ttlMs: 300_000 } as const;

/** What a sign-in hands over to make a session. */
export interface NewSession {
  readonly user: string;
  readonly email?: string | undefined;
  readonly name?: string | undefined;
  readonly groups: readonly string[];
  readonly idp: string;
  readonly method: string;
  /** IdP tokens to keep (sealed) for refresh and logout. */
  readonly tokens?: Readonly<Record<string, string>> | undefined;
  readonly subject?: string | undefined;
  readonly idpSession?: string | undefined;
  readonly refreshAt?: number | undefined;
  readonly kind?: 'cli' | undefined;
}

/** What a refresh may change in a session. */
export type RecordChanges = Partial<Pick<NewSession, 'email' | 'name' | 'groups' | 'tokens' | 'refreshAt'>>;

export type Lookup =
  | { readonly state: 'active'; readonly key: string; readonly record: SessionRecord }
  | { readonly state: 'invalid' }
  /** `record`: the ended session, when the store still had it (its user for the audit record). */
  | { readonly state: 'expired'; readonly key: string; readonly why: 'idle' | 'absolute'; readonly record?: SessionRecord }
  | { readonly state: 'revoked'; readonly key: string };

/** A session a logout ended, with its record (its user) when the store still had it. */
export interface RevokedSession {
  readonly key: string;
  readonly record: SessionRecord | undefined;
}

/** A session the sweeper found ended and deleted: the subject of its session_expired record. */
export interface EndedSession {
  readonly key: string;
  readonly record: SessionRecord;
  readonly why: ExpiredWhy;
}

/** The sweeper's defaults: a sweep a minute, at most this many ended sessions each. */
export const SWEEP_INTERVAL_MS = 60_000;
export const SWEEP_LIMIT = 1000;

/** A live session as listed (admin API; formatted there). */
export interface ListedSession {
  /** The store key (SHA-256 of the session id): names the session, cannot be used as a cookie. */
  readonly id: string;
  readonly record: SessionRecord;
  /** The earliest moment it ends if not used again (epoch ms). */
  readonly expiresAt: number;
}

export interface SessionManager {
  readonly cookie: CookieCodec;
  /** The session records (readiness, kind, tests); one-time values only through the two below. */
  readonly store: SessionStore;
  /** Pending sign-ins, for auth/login-state.ts. */
  readonly pendingLogins: PendingLogins;
  /** Replay markers for IdP messages (SAML assertions and LogoutRequests, logout tokens). */
  readonly replay: ReplayGuard;
  /** Short-lived single-use values: `gatehouse login` codes and refresh tokens (auth/cli/grants.ts). */
  readonly values: Pick<OneTimeStore, 'put' | 'take'>;
  /** Per-user "not before" for IdP bearer tokens, set by revokeUser (user-not-before.ts). */
  readonly notBefore: UserNotBefore;
  /** session.absolute_timeout in ms (the cookie's Max-Age). */
  readonly absoluteMs: number;
  /** Start a session (always a new id: no fixation). Returns the cookie value to set. */
  create(input: NewSession): Promise<{ cookieValue: string; key: string; record: SessionRecord }>;
  /** Resolve a cookie value; renews the idle timer when due. Throws GH_STORE_UNAVAILABLE. */
  lookup(cookieValue: string): Promise<Lookup>;
  /**
   * lookup, answered at once (no promise) when the near cache holds a fresh copy of a session that
   * has not expired: the common request pays no promise ticks. Fails as lookup does, by a throw
   * when answered at once: callers catch both.
   */
  lookupNow(cookieValue: string): Lookup | Promise<Lookup>;
  /** Like lookup, by store key (user tokens name their session by it: auth/bearer/user-token.ts). */
  resolve(key: string): Promise<Lookup>;
  /** End a session on purpose (logout, admin, IdP). */
  revoke(key: string): Promise<boolean>;
  revokeUser(user: string): Promise<string[]>;
  /** IdP-initiated logout: end the sessions of an IdP subject, or of one IdP session. */
  /** Back-channel and SAML logout: the sessions ended, each with its record when it was read. */
  revokeByIdp(idp: string, by: { subject?: string | undefined; idpSession?: string | undefined }): Promise<RevokedSession[]>;
  list(user: string): Promise<ListedSession[]>;
  /** Replace a session's identity and tokens after a refresh; false when it ended meanwhile. */
  update(key: string, record: SessionRecord, changes: RecordChanges): Promise<SessionRecord | undefined>;
  /** Tie a live connection to a session; returns the function to call when it closes. */
  watch(key: string, record: SessionRecord, conn: LiveConnection): () => void;
  /** Traffic on a live connection counts as use (renewal throttled like requests). */
  activity(key: string): void;
  /**
   * Tie a live connection to a personal access token: it ends when endTokens names the token (any
   * replica), or when `find` (the token store) no longer has it at a re-check. Returns the unwatch.
   */
  watchToken(id: string, conn: LiveConnection, find: (id: string) => Promise<{ readonly expiresAt: number } | undefined>): () => void;
  /** Personal access tokens were revoked: close their live connections on every replica sharing the store. */
  endTokens(ids: readonly string[]): Promise<void>;
  tokens(key: string, record: SessionRecord): Record<string, string> | undefined;
  /** Anti-CSRF token bound to one session (logout form). */
  csrfToken(key: string): string;
  verifyCsrf(key: string, token: string): boolean;
  readonly live: LiveRegistry;
  /**
   * Delete up to `limit` ended sessions (idle or absolute) that nobody presented again, walking the
   * store on from where the last sweep stopped (at most one full walk, and about 10 × `limit` keys
   * looked at). Returns those this call deleted: a second sweep, or another replica's, never returns
   * the same one.
   */
  sweepEnded(limit: number): Promise<EndedSession[]>;
  /**
   * Sweep every `intervalMs` (an unref'd timer, stopped by close()) and hand what ended to
   * `onEnded`. With a shared store one replica sweeps per interval (a lock in the store). Called
   * again (a reload that keeps these sessions), it only replaces the callbacks: one timer per manager.
   */
  sweepEvery(intervalMs: number, onEnded: (ended: EndedSession[]) => void, onError: (err: unknown) => void): void;
  close(): Promise<void>;
}

export interface ManagerOptions {
  readonly config: SessionConfig;
  /** session.secret, or a per-process random one when unset with the memory store. */
  readonly secret: Secret;
  /** The backend: both interfaces, one object (memory-store.ts, redis-store.ts). */
  readonly store: SessionStore & OneTimeStore;
  readonly now?: () => number;
  /** Near cache for shared stores: entries older than this are re-read whatever the channel. Default 1 s. */
  readonly cacheTtlMs?: number;
  /** ...and while the invalidation channel is live, this long. Default session.cache.ttl (5 min). */
  readonly cachePushedTtlMs?: number;
  /** Entries kept (sessions, verified cookies). Default session.cache.max_entries (50,000). */
  readonly cacheMax?: number;
  /** Live connections are re-checked at least this often. Default 10 s. */
  readonly liveRecheckMs?: number;
  /** Called when a background renewal fails (logging). */
  readonly onBackgroundError?: (err: unknown) => void;
}

export function createSessionManager(options: ManagerOptions): SessionManager {
  return new Sessions(options);
}

class Sessions implements SessionManager {
  readonly cookie: CookieCodec;
  readonly store: SessionStore;
  readonly pendingLogins: PendingLogins;
  readonly replay: ReplayGuard;
  readonly values: Pick<OneTimeStore, 'put' | 'take'>;
  readonly notBefore: UserNotBefore;
  readonly live: LiveRegistry;
  readonly #backend: SessionStore & OneTimeStore;
  readonly #now: () => number;
  readonly #expiry: Expiry;
  readonly #cache: SessionCache;
  readonly #verified: VerifiedCookies;
  readonly #renewal: Renewal;
  readonly #sealer: TokenSealer;
  readonly #csrf: CsrfTokens;
  readonly #onBackgroundError: (err: unknown) => void;
  /** Where the next sweep goes on walking the store. */
  #sweepCursor = '0';
  #sweeper: { timer: NodeJS.Timeout; onEnded: (ended: EndedSession[]) => void; onError: (err: unknown) => void } | undefined;
  #sweeping = false;

  constructor(options: ManagerOptions) {
    const { config, store, secret } = options;
    this.store = this.#backend = store;
    this.pendingLogins = createPendingLogins(store);
    this.replay = createReplayGuard(store);
    this.values = { put: (name, value, ttlMs) => store.put(name, value, ttlMs), take: (name) => store.take(name) };
    this.#now = options.now ?? Date.now;
    this.#expiry = new Expiry(config.idleMs, config.absoluteMs);
    this.cookie = createCookieCodec(config.cookie, deriveKey(secret, 'cookie-mac'));
    const cacheMax = options.cacheMax ?? config.cache?.maxEntries ?? DEFAULT_CACHE.maxEntries;
    this.#cache = new SessionCache(store, {
      ttlMs: options.cacheTtlMs ?? 1000,
      pushedTtlMs: options.cachePushedTtlMs ?? config.cache?.ttlMs ?? DEFAULT_CACHE.ttlMs,
      max: cacheMax,
      now: this.#now,
    });
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    this.#verified = new VerifiedCookies(this.cookie, cacheMax);
    this.#renewal = new Renewal(store, this.#cache, this.#expiry, { now: this.#now, onError: this.#onBackgroundError });
    this.#sealer = new TokenSealer(secret);
    this.notBefore = new UserNotBefore(store, this.#now, options.cacheTtlMs ?? 1000);
    this.#csrf = new CsrfTokens(secret);
    this.live = createLiveRegistry({
      recheckMs: options.liveRecheckMs ?? 10_000,
      now: this.#now,
      check: async (key) => {
        const r = await this.#resolve(key, false);
        if (r.state === 'active') return { active: true, nextExpiryAt: this.#expiry.next(r.record) };
        return { active: false, reason: r.state === 'revoked' ? 'revoked' : 'expired' };
      },
    });
    followRevocations(store, this.#cache, this.live);
  }

  get absoluteMs(): number {
    return this.#expiry.absoluteMs;
  }

  async create(input: NewSession): Promise<{ cookieValue: string; key: string; record: SessionRecord }> {
    const at = this.#now();
    const { id, value } = this.cookie.mint();
    const key = sessionKey(id);
    const record = newRecord(input, at, at + this.#expiry.absoluteMs, input.tokens && this.#sealer.seal(key, input.tokens));
    await this.#backend.set(key, record, this.#expiry.storeTtl(record, at));
    this.#cache.put(key, record);
    return { cookieValue: value, key, record };
  }

  async lookup(cookieValue: string): Promise<Lookup> {
    return this.lookupNow(cookieValue);
  }

  lookupNow(cookieValue: string): Lookup | Promise<Lookup> {
    const key = this.#verified.keyOf(cookieValue);
    if (key === undefined) return { state: 'invalid' };
    const record = this.#cache.fresh(key);
    if (record !== undefined) {
      const at = this.#now();
      // An expired one, or an idle verdict only the store may confirm: #resolve's way.
      if (this.#expiry.why(record, at) === undefined) return this.#active(key, record, at);
    }
    return this.#resolve(key, true);
  }

  resolve(key: string): Promise<Lookup> {
    return this.#resolve(key, true);
  }

  /** Session state by store key (lookups, live-connection re-checks); renews when due. */
  async #resolve(key: string, allowCache: boolean): Promise<Lookup> {
    let { record, cached } = await this.#cache.read(key, allowCache);
    const at = this.#now();
    // Another replica may have renewed it: trust only the store for an idle verdict.
    if (record && cached && this.#expiry.why(record, at) === 'idle') ({ record } = await this.#cache.read(key, false));
    if (!record) return (await this.#backend.wasRevoked(key)) ? { state: 'revoked', key } : { state: 'expired', key, why: 'idle' };
    const why = this.#expiry.why(record, at);
    if (why) {
      this.#cache.drop(key);
      await this.#backend.delete(key);
      return { state: 'expired', key, why, record };
    }
    return this.#active(key, record, at);
  }

  /** A live session, renewed when due. */
  #active(key: string, record: SessionRecord, at: number): Lookup {
    return { state: 'active', key, record: this.#renewal.due(record, at) ? this.#renewal.renew(key, record, at) : record };
  }

  async revoke(key: string): Promise<boolean> {
    this.#cache.drop(key);
    const existed = await this.#backend.revoke(key, this.#expiry.absoluteMs);
    this.live.endSession(key, 'revoked');
    return existed;
  }

  async revokeUser(user: string): Promise<string[]> {
    const keys = await this.#revokeIndex(userIndex(user));
    // After the sessions (their revocation is what a racing sign-in must see first): marked now,
    // the user's IdP bearer tokens issued until this moment are refused.
    await this.notBefore.mark(user);
    return keys;
  }

  async revokeByIdp(idp: string, by: { subject?: string | undefined; idpSession?: string | undefined }): Promise<RevokedSession[]> {
    if (by.idpSession !== undefined) return this.#revokeIndexed(idpSessionIndex(idp, by.idpSession));
    return by.subject !== undefined ? this.#revokeIndexed(subjectIndex(idp, by.subject)) : [];
  }

  async #revokeIndex(name: string): Promise<string[]> {
    const keys = await this.#backend.revokeIndex(name, this.#expiry.absoluteMs);
    for (const key of keys) ended(this.#cache, this.live, key);
    return keys;
  }

  /**
   * Revoke an index's sessions and say whose each was: the records are read first (a session
   * added in between is revoked without one). Sessions that had already ended are not reported.
   */
  async #revokeIndexed(name: string): Promise<RevokedSession[]> {
    const records = new Map(await this.#backend.listIndex(name));
    const at = this.#now();
    const keys = await this.#revokeIndex(name);
    const out: RevokedSession[] = [];
    for (const key of keys) {
      const record = records.get(key);
      if (record === undefined || this.#expiry.why(record, at) === undefined) out.push({ key, record });
    }
    return out;
  }

  async update(key: string, record: SessionRecord, changes: RecordChanges): Promise<SessionRecord | undefined> {
    const at = this.#now();
    const next = changedRecord(record, changes, at, changes.tokens && this.#sealer.seal(key, changes.tokens));
    if (!(await this.#backend.touch(key, next, this.#expiry.storeTtl(next, at)))) {
      this.#cache.drop(key);
      return undefined;
    }
    this.#cache.put(key, next);
    // Other replicas drop their copy and read the new identity and groups. Best effort: when it
    // cannot be sent Redis is down, and their channels go stale too (short TTL).
    await this.#backend.announceChanged([key]).catch(this.#onBackgroundError);
    return next;
  }

  /** Sessions held in the near cache now (bench, tests). */
  get cachedSessions(): number {
    return this.#cache.size;
  }

  async list(user: string): Promise<ListedSession[]> {
    const at = this.#now();
    const active = (await this.#backend.listIndex(userIndex(user))).filter(([, r]) => this.#expiry.why(r, at) === undefined);
    return active.map(([id, record]) => ({ id, record, expiresAt: this.#expiry.next(record) }));
  }

  watch(key: string, record: SessionRecord, conn: LiveConnection): () => void {
    const unwatch = this.live.watch(key, this.#expiry.next(record), conn);
    return () => {
      unwatch();
      if (!this.live.has(key)) this.#renewal.forget(key);
    };
  }

  activity(key: string): void {
    this.#renewal.activity(key, (k) => this.#resolve(k, true));
  }

  watchToken(id: string, conn: LiveConnection, find: (id: string) => Promise<{ readonly expiresAt: number } | undefined>): () => void {
    // The expiry is learnt at the first re-check; a token gone before it passed was revoked.
    let expiresAt = Number.POSITIVE_INFINITY;
    return this.live.watch(patLiveKey(id), expiresAt, conn, async () => {
      const found = await find(id);
      if (found === undefined) return { active: false, reason: this.#now() < expiresAt ? 'revoked' : 'expired' };
      expiresAt = found.expiresAt;
      return { active: true, nextExpiryAt: expiresAt };
    });
  }

  async endTokens(ids: readonly string[]): Promise<void> {
    // The session store's revocation notice carries the token's live key to every replica (this
    // one too: revocation.ts closes its connections); the 1 ms tombstone is never read.
    for (const id of ids) {
      this.live.endSession(patLiveKey(id), 'revoked');
      await this.#backend.revoke(patLiveKey(id), 1);
    }
  }

  tokens(key: string, record: SessionRecord): Record<string, string> | undefined {
    return this.#sealer.open(key, record);
  }

  csrfToken(key: string): string {
    return this.#csrf.token(key);
  }

  verifyCsrf(key: string, token: string): boolean {
    return this.#csrf.verify(key, token);
  }

  async sweepEnded(limit: number): Promise<EndedSession[]> {
    const out: EndedSession[] = [];
    try {
      await this.#sweepSteps(limit, 10 * limit, out);
    } catch (err) {
      // Those deleted before the store failed still get their record; the rest wait for the next sweep.
      if (out.length === 0) throw err;
    }
    return out;
  }

  async #sweepSteps(limit: number, budget: number, out: EndedSession[]): Promise<void> {
    do {
      // A step asks for no more than the sweep may still take (what it skips waits for the next walk).
      const count = Math.min(500, budget, limit - out.length);
      const step = await this.#backend.scan(this.#sweepCursor, count);
      this.#sweepCursor = step.cursor;
      // Counted as asked, not as found: keys that are not sessions (a shared Redis) cost work too.
      budget -= Math.max(count, step.entries.length);
      const at = this.#now();
      for (const [key, record] of step.entries) {
        if (out.length >= limit) break;
        const why = this.#expiry.why(record, at);
        if (why === undefined || !(await this.#backend.deleteIfUnchanged(key, record))) continue;
        this.#cache.drop(key);
        out.push({ key, record, why });
      }
    } while (this.#sweepCursor !== '0' && out.length < limit && budget > 0);
  }

  sweepEvery(intervalMs: number, onEnded: (ended: EndedSession[]) => void, onError: (err: unknown) => void): void {
    if (this.#sweeper) {
      this.#sweeper.onEnded = onEnded;
      this.#sweeper.onError = onError;
      return;
    }
    const timer = setInterval(() => void this.#sweepTick(intervalMs), intervalMs);
    timer.unref();
    this.#sweeper = { timer, onEnded, onError };
  }

  async #sweepTick(intervalMs: number): Promise<void> {
    const sweeper = this.#sweeper;
    if (!sweeper || this.#sweeping) return;
    this.#sweeping = true;
    try {
      // Shared store: the first replica to take the lock sweeps; it lapses before the next tick.
      if (this.#backend.shared && !(await this.#backend.once(oneTimeName('sweep'), Math.max(1, Math.floor(intervalMs * 0.9))))) return;
      const ended = await this.sweepEnded(SWEEP_LIMIT);
      if (ended.length > 0) sweeper.onEnded(ended);
    } catch (err) {
      sweeper.onError(err);
    } finally {
      this.#sweeping = false;
    }
  }

  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper.timer);
    this.#sweeper = undefined;
    this.live.close();
    this.#renewal.clear();
    this.#verified.clear();
    this.#cache.clear();
    await this.#backend.close();
  }
}

function newRecord(input: NewSession, at: number, absoluteExpiresAt: number, tokens: string | undefined): SessionRecord {
  const { user, email, name, idp, method, subject, idpSession, refreshAt } = input;
  return {
    v: 1,
    user,
    email,
    name,
    groups: [...input.groups],
    idp,
    method,
    createdAt: at,
    lastSeenAt: at,
    absoluteExpiresAt,
    tokens,
    subject,
    idpSession,
    refreshAt,
    ...(input.kind !== undefined ? { kind: input.kind } : {}),
  };
}

/** A refresh's changes: fields left undefined keep their value, except refreshAt. */
function changedRecord(record: SessionRecord, changes: RecordChanges, at: number, tokens: string | undefined): SessionRecord {
  return {
    ...record,
    ...(changes.email !== undefined ? { email: changes.email } : {}),
    ...(changes.name !== undefined ? { name: changes.name } : {}),
    ...(changes.groups !== undefined ? { groups: [...changes.groups] } : {}),
    ...(tokens !== undefined ? { tokens } : {}),
    refreshAt: changes.refreshAt,
    lastSeenAt: at,
  };
}
