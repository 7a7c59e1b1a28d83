// Session lifecycle above a dumb SessionStore: minting ids and cookies, hashing ids into store keys,
// idle and absolute timeouts, throttled sliding renewal, sealed IdP tokens, a bounded local cache
// for shared stores, revocation, and closing live connections when a session ends.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SessionConfig } from '../config/compile.ts';
import type { Secret } from '../config/secret.ts';
import { createCookieCodec, sessionKey, type CookieCodec } from './cookie.ts';
import { deriveKey } from './keys.ts';
import { createLiveRegistry, type LiveConnection, type LiveRegistry } from './live.ts';
import { createPendingLogins, createReplayGuard, type OneTimeStore, type PendingLogins, type ReplayGuard } from './one-time.ts';
import { open, seal } from './seal.ts';
import { idpSessionIndex, subjectIndex, userIndex, type SessionRecord, type SessionStore } from './store.ts';

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
}

export type Lookup =
  | { readonly state: 'active'; readonly key: string; readonly record: SessionRecord }
  | { readonly state: 'invalid' }
  | { readonly state: 'expired'; readonly key: string; readonly why: 'idle' | 'absolute' }
  | { readonly state: 'revoked'; readonly key: string };

export interface SessionSummary {
  /** The store key (SHA-256 of the session id): names the session, cannot be used as a cookie. */
  readonly id: string;
  readonly user: string;
  readonly email: string | undefined;
  readonly idp: string;
  readonly method: string;
  readonly created_at: string;
  readonly last_seen_at: string;
  readonly expires_at: string;
}

export interface SessionManager {
  readonly cookie: CookieCodec;
  /** The session records (readiness, kind, tests); one-time values only through the two below. */
  readonly store: SessionStore;
  /** Pending sign-ins, for auth/login-state.ts. */
  readonly pendingLogins: PendingLogins;
  /** Replay markers for IdP messages (SAML assertions and LogoutRequests, logout tokens). */
  readonly replay: ReplayGuard;
  readonly idleMs: number;
  readonly absoluteMs: number;
  /** Start a session (always a new id: no fixation). Returns the cookie value to set. */
  create(input: NewSession): Promise<{ cookieValue: string; key: string; record: SessionRecord }>;
  /** Resolve a cookie value; renews the idle timer when due. Throws GH_STORE_UNAVAILABLE. */
  lookup(cookieValue: string): Promise<Lookup>;
  /** End a session on purpose (logout, admin, IdP). */
  revoke(key: string): Promise<boolean>;
  revokeUser(user: string): Promise<string[]>;
  /** IdP-initiated logout: end the sessions of an IdP subject, or of one IdP session. */
  revokeByIdp(idp: string, by: { subject?: string | undefined; idpSession?: string | undefined }): Promise<string[]>;
  list(user: string): Promise<SessionSummary[]>;
  /** Replace a session's identity and tokens after a refresh; false when it ended meanwhile. */
  update(key: string, record: SessionRecord, changes: Partial<Pick<NewSession, 'email' | 'name' | 'groups' | 'tokens' | 'refreshAt'>>): Promise<SessionRecord | undefined>;
  /** Tie a live connection to a session; returns the function to call when it closes. */
  watch(key: string, record: SessionRecord, conn: LiveConnection): () => void;
  /** Traffic on a live connection counts as use (renewal throttled like requests). */
  activity(key: string): void;
  tokens(key: string, record: SessionRecord): Record<string, string> | undefined;
  /** Anti-CSRF token bound to one session (logout form). */
  csrfToken(key: string): string;
  verifyCsrf(key: string, token: string): boolean;
  readonly live: LiveRegistry;
  close(): Promise<void>;
}

export interface ManagerOptions {
  readonly config: SessionConfig;
  /** session.secret, or a per-process random one when unset with the memory store. */
  readonly secret: Secret;
  /** The backend: both interfaces, one object (memory-store.ts, redis-store.ts). */
  readonly store: SessionStore & OneTimeStore;
  readonly now?: () => number;
  /** Local cache for shared stores; entries older than this are re-read. Default 1 s. */
  readonly cacheTtlMs?: number;
  readonly cacheMax?: number;
  /** Live connections are re-checked at least this often. Default 10 s. */
  readonly liveRecheckMs?: number;
  /** Called when a background renewal fails (logging). */
  readonly onBackgroundError?: (err: unknown) => void;
}

interface CacheEntry {
  record: SessionRecord;
  fetchedAt: number;
}

export function createSessionManager(options: ManagerOptions): SessionManager {
  const { config, store } = options;
  const now = options.now ?? Date.now;
  const idleMs = config.idleMs;
  const absoluteMs = config.absoluteMs;
  // Sliding renewal writes at most once per tenth of the idle timeout.
  const renewEveryMs = Math.max(100, Math.floor(idleMs / 10));
  const cacheTtlMs = options.cacheTtlMs ?? 1000;
  const cacheMax = options.cacheMax ?? 10_000;
  const cookie = createCookieCodec(config.cookie, deriveKey(options.secret, 'cookie-mac'));
  const sealKey = deriveKey(options.secret, 'token-seal');
  const csrfKey = deriveKey(options.secret, 'csrf');
  const csrfToken = (key: string) => createHmac('sha256', csrfKey).update(key).digest('base64url');
  const onError = options.onBackgroundError ?? (() => {});
  // Only a shared store needs a cache in front of it; the memory store is its own cache.
  const cache = store.shared ? new Map<string, CacheEntry>() : undefined;
  const renewing = new Set<string>();
  // Cookie values whose MAC already verified, with their store key: HMAC + SHA-256 cost more than
  // the rest of a cached lookup. Bounded; holds nothing the process does not already know.
  const verified = new Map<string, string>();
  // Last time traffic on a live connection was considered, per session with live connections.
  const lastActivity = new Map<string, number>();

  const cachePut = (key: string, record: SessionRecord) => {
    if (!cache) return;
    cache.delete(key);
    if (cache.size >= cacheMax) cache.delete(cache.keys().next().value!);
    cache.set(key, { record, fetchedAt: now() });
  };
  const ttlFor = (record: SessionRecord, at: number) => Math.min(idleMs, record.absoluteExpiresAt - at);
  const nextExpiry = (record: SessionRecord) => Math.min(record.absoluteExpiresAt, record.lastSeenAt + idleMs);
  const expiredWhy = (record: SessionRecord, at: number): 'idle' | 'absolute' | undefined =>
    at >= record.absoluteExpiresAt ? 'absolute' : at - record.lastSeenAt >= idleMs ? 'idle' : undefined;

  /** Read a record, from the cache when fresh. */
  const read = async (key: string, allowCache: boolean): Promise<{ record: SessionRecord | undefined; cached: boolean }> => {
    if (cache && allowCache) {
      const hit = cache.get(key);
      if (hit && now() - hit.fetchedAt < cacheTtlMs) return { record: hit.record, cached: true };
    }
    const record = await store.get(key);
    if (record) cachePut(key, record);
    else cache?.delete(key);
    return { record, cached: false };
  };

  const renew = (key: string, record: SessionRecord, at: number): SessionRecord => {
    const renewed: SessionRecord = { ...record, lastSeenAt: at };
    cachePut(key, renewed);
    if (!renewing.has(key)) {
      renewing.add(key);
      store.touch(key, renewed, ttlFor(renewed, at)).then(
        (exists) => {
          renewing.delete(key);
          if (!exists) cache?.delete(key);
        },
        (err: unknown) => {
          renewing.delete(key);
          onError(err);
        },
      );
    }
    return renewed;
  };

  /** Session state by store key (used by lookup and by live-connection re-checks). */
  const resolve = async (key: string, allowCache: boolean): Promise<Lookup> => {
    let { record, cached } = await read(key, allowCache);
    const at = now();
    if (record && cached && expiredWhy(record, at) === 'idle') {
      // Another replica may have renewed it: trust only the store for an idle verdict.
      ({ record } = await read(key, false));
    }
    if (!record) return (await store.wasRevoked(key)) ? { state: 'revoked', key } : { state: 'expired', key, why: 'idle' };
    const why = expiredWhy(record, at);
    if (why) {
      cache?.delete(key);
      await store.delete(key);
      return { state: 'expired', key, why };
    }
    if (at - record.lastSeenAt >= renewEveryMs) record = renew(key, record, at);
    return { state: 'active', key, record };
  };

  const revokeIndex = async (name: string) => {
    const keys = await store.revokeIndex(name, absoluteMs);
    for (const key of keys) {
      cache?.delete(key);
      live.endSession(key, 'revoked');
    }
    return keys;
  };

  const live = createLiveRegistry({
    recheckMs: options.liveRecheckMs ?? 10_000,
    now,
    async check(key) {
      const r = await resolve(key, false);
      if (r.state === 'active') return { active: true, nextExpiryAt: nextExpiry(r.record) };
      return { active: false, reason: r.state === 'revoked' ? 'revoked' : 'expired' };
    },
  });

  store.onRevoked((keys) => {
    if (keys === undefined) {
      // Notifications may have been missed: forget every cached session and re-check live ones.
      cache?.clear();
      for (const key of [...live.keys()]) {
        resolve(key, false).then(
          (r) => {
            if (r.state !== 'active') live.endSession(key, r.state === 'revoked' ? 'revoked' : 'expired');
          },
          () => live.endSession(key, 'expired'),
        );
      }
      return;
    }
    for (const key of keys) {
      cache?.delete(key);
      live.endSession(key, 'revoked');
    }
  });

  return {
    cookie,
    store,
    pendingLogins: createPendingLogins(store),
    replay: createReplayGuard(store),
    idleMs,
    absoluteMs,
    live,
    async create(input) {
      const at = now();
      const { id, value } = cookie.mint();
      const key = sessionKey(id);
      const record: SessionRecord = {
        v: 1,
        user: input.user,
        email: input.email,
        name: input.name,
        groups: [...input.groups],
        idp: input.idp,
        method: input.method,
        createdAt: at,
        lastSeenAt: at,
        absoluteExpiresAt: at + absoluteMs,
        tokens: input.tokens ? seal(sealKey, JSON.stringify(input.tokens), key) : undefined,
        subject: input.subject,
        idpSession: input.idpSession,
        refreshAt: input.refreshAt,
      };
      await store.set(key, record, ttlFor(record, at));
      cachePut(key, record);
      return { cookieValue: value, key, record };
    },
    async lookup(cookieValue) {
      let key = verified.get(cookieValue);
      if (key === undefined) {
        const id = cookie.verify(cookieValue);
        if (id === undefined) return { state: 'invalid' };
        key = sessionKey(id);
        if (verified.size >= cacheMax) verified.delete(verified.keys().next().value!);
        verified.set(cookieValue, key);
      }
      return resolve(key, true);
    },
    async revoke(key) {
      cache?.delete(key);
      const existed = await store.revoke(key, absoluteMs);
      live.endSession(key, 'revoked');
      return existed;
    },
    revokeUser: (user) => revokeIndex(userIndex(user)),
    async revokeByIdp(idp, by) {
      const keys: string[] = [];
      if (by.idpSession !== undefined) keys.push(...(await revokeIndex(idpSessionIndex(idp, by.idpSession))));
      else if (by.subject !== undefined) keys.push(...(await revokeIndex(subjectIndex(idp, by.subject))));
      return keys;
    },
    async update(key, record, changes) {
      const at = now();
      const next: SessionRecord = {
        ...record,
        ...(changes.email !== undefined ? { email: changes.email } : {}),
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.groups !== undefined ? { groups: [...changes.groups] } : {}),
        ...(changes.tokens !== undefined ? { tokens: seal(sealKey, JSON.stringify(changes.tokens), key) } : {}),
        refreshAt: changes.refreshAt,
        lastSeenAt: at,
      };
      if (!(await store.touch(key, next, ttlFor(next, at)))) {
        cache?.delete(key);
        return undefined;
      }
      cachePut(key, next);
      return next;
    },
    async list(user) {
      const at = now();
      return (await store.listIndex(userIndex(user)))
        .filter(([, r]) => expiredWhy(r, at) === undefined)
        .map(([id, r]) => ({
          id,
          user: r.user,
          email: r.email,
          idp: r.idp,
          method: r.method,
          created_at: new Date(r.createdAt).toISOString(),
          last_seen_at: new Date(r.lastSeenAt).toISOString(),
          expires_at: new Date(nextExpiry(r)).toISOString(),
        }));
    },
    watch(key, record, conn) {
      const unwatch = live.watch(key, nextExpiry(record), conn);
      return () => {
        unwatch();
        if (!live.has(key)) lastActivity.delete(key);
      };
    },
    activity(key) {
      const at = now();
      // Cheap early exit: socket traffic arrives far more often than renewals are due.
      if (at - (lastActivity.get(key) ?? 0) < renewEveryMs) return;
      lastActivity.set(key, at);
      const hit = cache?.get(key);
      if (hit) {
        if (at - hit.record.lastSeenAt >= renewEveryMs && expiredWhy(hit.record, at) === undefined) renew(key, hit.record, at);
        return;
      }
      // No cached copy (memory store, or evicted): resolve() renews when due.
      void resolve(key, true).catch(onError);
    },
    tokens(key, record) {
      if (!record.tokens) return undefined;
      const text = open(sealKey, record.tokens, key);
      return text === undefined ? undefined : (JSON.parse(text) as Record<string, string>);
    },
    csrfToken,
    verifyCsrf(key, token) {
      const expected = Buffer.from(csrfToken(key));
      const given = Buffer.from(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    async close() {
      live.close();
      lastActivity.clear();
      verified.clear();
      cache?.clear();
      await store.close();
    },
  };
}
