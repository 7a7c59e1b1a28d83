// Personal access tokens: long-lived bearer credentials Gatehouse issues to a signed-in user (the
// token page, /.gatehouse/tokens) or on an admin's word (POST /admin/tokens), for jobs that run
// without anyone at a browser (MLFLOW_TRACKING_TOKEN, a nightly Label Studio import).
//
//   gatehouse_pat_<id>_<secret>    id: 16 hex digits (public: lists, admin paths, audit);
//                                  secret: 32 random bytes, base64url (256 bits)
//
// The recognisable prefix lets secret scanners find leaked tokens, and tells this verifier from the
// IdP's (verify.ts) without asking anyone. Only SHA-256 of the whole token is stored
// (session/pat-store.ts); a token is looked up by its id and its hash compared in constant time.
// Every use reads the store — nothing is cached — so a revoked token is refused by every replica
// at its next request, and its live connections are closed at once (PatDeps.revoked). A token
// names the routes it may reach: used anywhere else it is no credential (403 where the route
// needs one). It carries the groups its owner had at creation; with tokens.pat.recheck_groups the
// groups of the owner's newest live session are used instead when there is one (that session is
// revalidated at the IdP on its own schedule).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PatConfig } from '../../config/types.ts';
import { GatehouseError } from '../../errors.ts';
import type { Identity } from '../../identity/identity.ts';
import type { ListedPat, PatRecord, PatStore } from '../../session/pat-store.ts';

export const PAT_PREFIX = 'gatehouse_pat_';
const PAT_SHAPE = /^gatehouse_pat_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Longest token name; names are shown in lists and audit records. */
export const PAT_NAME_MAX = 100;
const NAME_SHAPE = /^[\p{L}\p{N} ._:@()/-]+$/u;
const HOUR_MS = 3_600_000;
/** Last-used times are written at most this often per token and process. */
const MARK_EVERY_MS = 60_000;
const MARK_MAX = 10_000;

export interface PatIdentity extends Identity {
  readonly method: 'pat';
  readonly tokenId: string;
  readonly tokenName: string;
}

/** What an audit record says of a token: its id and name, never the token. */
export interface PatFacts {
  readonly id: string;
  readonly name: string | undefined;
}

/** True for a credential shaped like a personal access token (checked by this verifier alone). */
export function isPatToken(token: string): boolean {
  return token.startsWith(PAT_PREFIX);
}

/** The public id inside a token, when it is well-formed. */
export function patIdOf(token: string): string | undefined {
  return PAT_SHAPE.exec(token)?.[1];
}

export const patHash = (token: string) => createHash('sha256').update(token).digest('base64url');

/** What creating a token needs: whose, called what, for which routes, how long. */
export interface PatRequest {
  readonly owner: Identity;
  readonly name: string;
  readonly routes: readonly string[];
  /** Lifetime asked for; default tokens.pat.default_ttl, never more than max_ttl. */
  readonly ttlMs?: number | undefined;
  readonly by: 'user' | 'admin';
}

export interface Pats {
  readonly config: PatConfig;
  readonly store: PatStore;
  /** Route names a token may be given. */
  readonly routeNames: readonly string[];
  /**
   * The identity a token stands for on `route`. Throws GH_BAD_TOKEN (unknown, malformed, revoked,
   * expired) or GH_FORBIDDEN (not for this route); `seen` is told the token's id (and name) first,
   * so a refusal is audited with them too.
   */
  verify(token: string, route: string | undefined, seen: (facts: PatFacts) => void): Promise<PatIdentity>;
  /** Checks the request, counts it against the creation rate, stores the hash; the token is returned once. */
  create(request: PatRequest): Promise<{ token: string; record: PatRecord }>;
  list(user: string): Promise<ListedPat[]>;
  listAll(): Promise<ListedPat[]>;
  revoke(id: string): Promise<PatRecord | undefined>;
  revokeUser(user: string): Promise<PatRecord[]>;
}

export interface PatDeps {
  readonly config: PatConfig;
  readonly store: PatStore;
  readonly routeNames: readonly string[];
  /** The groups of the user's newest live session, if any (tokens.pat.recheck_groups). */
  readonly currentGroups?: (user: string) => Promise<readonly string[] | undefined>;
  readonly now?: () => number;
  /** A failed last-used write (never fails the request). */
  readonly onBackgroundError?: (err: unknown) => void;
  /** Tokens were revoked: their live connections (WebSockets, streams) are closed on every replica. */
  readonly revoked?: (ids: readonly string[]) => Promise<void>;
}

const bad = (why: string) => new GatehouseError('GH_BAD_TOKEN', `The personal access token was refused: ${why}.`);
const badRequest = (why: string) => new GatehouseError('GH_BAD_REQUEST', why);

export function createPats(deps: PatDeps): Pats {
  const { config, store } = deps;
  const now = deps.now ?? Date.now;
  const routes = new Set(deps.routeNames);
  const marked = new Map<string, number>();

  function markUsed(id: string, at: number): void {
    const last = marked.get(id);
    if (last !== undefined && at - last < MARK_EVERY_MS) return;
    if (marked.size >= MARK_MAX) marked.delete(marked.keys().next().value as string);
    marked.set(id, at);
    store.markUsed(id, at).catch((err: unknown) => deps.onBackgroundError?.(err));
  }

  return {
    config,
    store,
    routeNames: deps.routeNames,
    async verify(token, route, seen) {
      const id = patIdOf(token);
      if (id === undefined) throw bad('malformed');
      seen({ id, name: undefined });
      const record = await store.get(id);
      if (!record) throw bad('unknown, revoked or expired');
      const given = Buffer.from(patHash(token));
      const stored = Buffer.from(record.hash);
      if (given.length !== stored.length || !timingSafeEqual(given, stored)) throw bad('unknown, revoked or expired');
      const t = now();
      if (record.expiresAt <= t) throw bad('expired');
      seen({ id, name: record.name });
      if (route === undefined || !record.routes.includes(route)) {
        throw new GatehouseError(
          'GH_FORBIDDEN',
          `The personal access token "${record.name}" is not for ${route ?? 'this address'}; it may reach: ${record.routes.join(', ')}.`,
        );
      }
      markUsed(id, t);
      const groups = (config.recheckGroups && (await deps.currentGroups?.(record.user))) || record.groups;
      return {
        user: record.user,
        email: record.email,
        name: record.displayName,
        groups,
        idp: record.idp,
        method: 'pat',
        tokenId: record.id,
        tokenName: record.name,
      };
    },
    async create(request) {
      const name = request.name.trim();
      if (name === '' || name.length > PAT_NAME_MAX || !NAME_SHAPE.test(name))
        throw badRequest(`name: 1-${PAT_NAME_MAX} letters, digits, spaces and . _ : @ ( ) / -`);
      const wanted = [...new Set(request.routes)];
      if (wanted.length === 0) throw badRequest('routes: name at least one route the token may reach');
      const unknown = wanted.filter((r) => !routes.has(r));
      if (unknown.length > 0) throw badRequest(`routes: no route is named ${unknown.join(', ')}`);
      const ttlMs = request.ttlMs ?? config.defaultTtlMs;
      if (!Number.isFinite(ttlMs) || ttlMs < 60_000 || ttlMs > config.maxTtlMs)
        throw badRequest(`expires_in: between 1 minute and ${Math.floor(config.maxTtlMs / 86_400_000)} days (tokens.pat.max_ttl)`);
      const user = request.owner.user;
      const created = await store.countCreation(user, HOUR_MS);
      if (created > config.createRate)
        throw new GatehouseError('GH_TOO_MANY_TOKENS', `At most ${config.createRate} tokens may be created per hour; try again later.`);
      if ((await store.listUser(user)).length >= config.maxPerUser)
        throw new GatehouseError('GH_TOO_MANY_TOKENS', `At most ${config.maxPerUser} tokens may be live at once; revoke one first.`);
      const id = randomBytes(8).toString('hex');
      const token = `${PAT_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
      const t = now();
      const record: PatRecord = {
        id,
        hash: patHash(token),
        name,
        user,
        email: request.owner.email,
        displayName: request.owner.name,
        groups: [...request.owner.groups],
        idp: request.owner.idp,
        routes: wanted,
        createdAt: t,
        expiresAt: t + ttlMs,
        createdBy: request.by,
      };
      await store.put(record);
      return { token, record };
    },
    list: (user) => store.listUser(user),
    listAll: () => store.listAll(),
    async revoke(id) {
      const r = await store.revoke(id);
      if (r) await deps.revoked?.([r.id]);
      return r;
    },
    async revokeUser(user) {
      const rs = await store.revokeUser(user);
      if (rs.length > 0) await deps.revoked?.(rs.map((r) => r.id));
      return rs;
    },
  };
}

/** One token as the page and the APIs show it: snake_case, ISO dates, never the hash. */
export function patSummary(r: PatRecord & { lastUsedAt?: number | undefined }): Record<string, unknown> {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    id: r.id,
    name: r.name,
    user: r.user,
    routes: r.routes,
    created_at: iso(r.createdAt),
    expires_at: iso(r.expiresAt),
    last_used_at: iso(r.lastUsedAt),
    created_by: r.createdBy,
  };
}
