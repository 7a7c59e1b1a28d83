// Everything derived from one Config, compiled once: route table with per-route plans (policy,
// identity headers, API paths), client resolver, upstream pools, WebSocket proxy, sessions,
// identity providers, assertion keys. A request takes `current()` once and uses that snapshot to
// the end, so a reload can swap the whole Runtime without mixing configs in a request.
import { createIdentityProviders, type IdentityProviders } from './auth/providers.ts';
import { createBearerVerifier, type BearerVerifier } from './auth/bearer/verify.ts';
import { createPats, type Pats } from './auth/bearer/pat.ts';
import { createSignalEffects } from './auth/ssf/effects.ts';
import { createSignalsReceiver, type SignalsReceiver } from './auth/ssf/receiver.ts';
import type { AuthEventInput } from './audit/events.ts';
import type { Config, RouteConfig } from './config/types.ts';
import { settingsFingerprint } from './config/secret.ts';
import { createAssertionSigner } from './identity/assertion.ts';
import { createHeaderPlan, type HeaderPlan } from './identity/headers.ts';
import { loadSigningKeys, type SigningKeys } from './identity/keys.ts';
import type { Logger } from './log.ts';
import { compilePathPattern, compilePolicy, type CompiledPolicy } from './policy/compile.ts';
import { sessionsFromConfig } from './session/create.ts';
import { SWEEP_INTERVAL_MS, type EndedSession, type SessionManager } from './session/manager.ts';
import { patStoreFromConfig } from './session/pat-create.ts';
import type { PatStore } from './session/pat-store.ts';
import { createUpstreams, type Upstreams } from './proxy/upstream.ts';
import { directoryFromConfig, directoryInUse } from './directory/create.ts';
import type { Directory, DirectoryChange } from './directory/directory.ts';
import { createOffboarding, type Offboarding } from './directory/offboard.ts';
import { createWebSocketProxy, type WebSocketProxy } from './proxy/websocket.ts';
import { createClientResolver, type ClientResolver } from './http/forwarded.ts';
import { foldCase } from './route/canonical.ts';
import { createHostMatcher } from './route/hosts.ts';
import { createRouteTable, type RouteTable } from './route/table.ts';

/** Everything a request needs about its route, compiled at load. */
export interface RoutePlan {
  readonly policy: CompiledPolicy;
  readonly headers: HeaderPlan;
  /** True for paths whose clients always get JSON (api_paths). */
  readonly isApiPath: (path: string) => boolean;
}

export interface Runtime {
  readonly config: Config;
  /** Routes, each matched together with its plan. */
  readonly routes: RouteTable<RoutePlan>;
  readonly resolveClient: ClientResolver;
  readonly upstreams: Upstreams;
  readonly websockets: WebSocketProxy;
  readonly sessions: SessionManager;
  /** Users and groups from SCIM / Shared Signals, in the session store's backend (directory/). */
  readonly directory: Directory;
  /** Ends a user's sessions, live connections and tokens on every replica (SCIM, Shared Signals). */
  readonly offboarding: Offboarding;
  readonly providers: IdentityProviders;
  readonly bearer: BearerVerifier;
  /** Personal access tokens (tokens.pat): verifier, creation, listing, revocation. */
  readonly pats: Pats;
  /** The Shared Signals receiver (POST /.gatehouse/ssf/events); undefined without `ssf`. */
  readonly signals: SignalsReceiver | undefined;
  readonly keys: SigningKeys;
  /** Hosts Gatehouse serves (route hosts, wildcards, public_url): forward-auth targets. */
  readonly isServedHost: (host: string) => boolean;
  /**
   * The authority to name this host by in anything Gatehouse builds (X-Forwarded-Host, callback and
   * logout URLs): a served host with public_url's port — never a port or a name the client made
   * up (a host-less route accepts any name; it is then public_url's authority).
   */
  readonly servedAuthority: (host: string) => string;
  /** Header names only Gatehouse may send (lower-case), and its cookie: for header rewriting. */
  readonly upstreamHeaders: { readonly cookieName: string; readonly reservedNames: ReadonlySet<string> };
  /** Close upstream connections after in-flight requests finish, and everything else this runtime
   * owns — except what `successor` (a reloaded runtime) took over. */
  close(successor?: Runtime): Promise<void>;
}

export interface RuntimeParts {
  /** Reuse a session manager (tests inject one with a fake clock; reloads keep the store). */
  readonly sessions?: SessionManager;
  /** Reuse the personal-access-token store (reloads with the same session settings keep it). */
  readonly patStore?: PatStore;
  /** Reuse the directory (reloads keep it while the session store settings stay). */
  readonly directory?: Directory;
  /** Reuse assertion keys (reloads keep the published JWKS stable). */
  readonly keys?: SigningKeys;
  /** Auth events that happen outside any request (background token refresh). */
  readonly onAuthEvent?: (e: AuthEventInput) => void;
  /** The runtime being replaced by a reload: unchanged providers are taken over from it. */
  readonly previous?: Runtime;
  /** How often ended sessions are swept (default SWEEP_INTERVAL_MS, a minute; tests shorten it). */
  readonly sweepIntervalMs?: number;
}

/** What a reload may keep from `old` for `next`: parts whose settings did not change. */
export function reusableParts(old: Runtime, next: Config): RuntimeParts {
  const same = (a: unknown, b: unknown) => settingsFingerprint(a) === settingsFingerprint(b);
  return {
    ...(same(old.config.session, next.session) ? { sessions: old.sessions, patStore: old.pats.store } : {}),
    ...(same(old.config.session, next.session) && directoryInUse(old.config) === directoryInUse(next) ? { directory: old.directory } : {}),
    ...(same(old.config.assertion, next.assertion) ? { keys: old.keys } : {}),
    previous: old,
  };
}

export async function buildRuntime(config: Config, log: Logger, parts: RuntimeParts = {}): Promise<Runtime> {
  const keys = parts.keys ?? (await loadSigningKeys(config.assertion.keyFiles));
  if (!config.assertion.keyFiles)
    log.info('assertion signing key generated at start (set assertion.key_files when running several replicas)');
  // Build in an order that can be undone: if a later part fails (a reload with a bad key file),
  // close what was already opened, so failed reloads leak no connections or timers.
  const opened: Array<() => unknown> = [];
  let upstreams: ReturnType<typeof createUpstreams>;
  let websockets: WebSocketProxy;
  let sessions: SessionManager;
  let directory: Directory;
  let providers: IdentityProviders;
  let patStore: PatStore;
  try {
    upstreams = createUpstreams(config.routes, parts.previous?.upstreams);
    opened.push(() => upstreams.close(parts.previous?.upstreams.pools));
    websockets = createWebSocketProxy();
    opened.push(() => websockets.close());
    sessions = parts.sessions ?? sessionsFromConfig(config.session, log);
    if (!parts.sessions) opened.push(() => sessions.close());
    // Sessions that ended unused get their end record from the sweeper (one timer per manager:
    // a reload that keeps the sessions only hands it the new callbacks).
    sessions.sweepEvery(parts.sweepIntervalMs ?? SWEEP_INTERVAL_MS, sweptAudit(parts.onAuthEvent), (err) =>
      log.warn({ err: (err as Error).message }, 'session sweep failed; retried at the next interval'),
    );
    patStore = parts.patStore ?? patStoreFromConfig(config.session);
    if (!parts.patStore) opened.push(() => patStore.close());
    directory = parts.directory ?? directoryFromConfig(config, directoryAudit(parts.onAuthEvent));
    if (!parts.directory) opened.push(() => directory.close());
    const dir = directory;
    providers = createIdentityProviders(
      config,
      sessions,
      log,
      parts.onAuthEvent ?? (() => {}),
      parts.previous?.providers,
      directoryInUse(config) ? async (user) => (await dir.getUser(user))?.active !== false : undefined,
    );
  } catch (err) {
    await Promise.allSettled(opened.map(async (close) => close()));
    throw err;
  }
  const pats = createPats({
    config: config.tokens.pat,
    store: patStore,
    routeNames: config.routes.map((r) => r.name),
    currentGroups: async (user) => (await sessions.list(user)).sort((a, b) => b.record.createdAt - a.record.createdAt)[0]?.record.groups,
    onBackgroundError: (err) => log.warn({ err: (err as Error).message }, 'personal access token: last-used time not written'),
    // Revoked is revoked (the store said so): a notice that cannot be sent leaves the token's live
    // connections to their next re-check (session/live.ts), it does not fail the revocation.
    revoked: (ids) =>
      sessions
        .endTokens(ids)
        .catch((err: unknown) =>
          log.warn({ err: (err as Error).message }, 'personal access token revoked; its live connections close at their next re-check'),
        ),
  });
  const offboarding = createOffboarding({
    sessions: () => sessions,
    onAuthEvent: parts.onAuthEvent ?? (() => {}),
    revokeTokens: async (user) => (await pats.revokeUser(user)).length,
  });
  const signer = createAssertionSigner(keys, config.server.publicUrl, config.assertion.ttlMs);
  const isServedHost = servedHosts(config);
  const pub = new URL(config.server.publicUrl);
  const publicPort = pub.port === '' ? '' : `:${pub.port}`;
  const publicAuthority = pub.host;
  return Object.freeze({
    config,
    routes: createRouteTable(config.routes, (r) => planRoute(r, signer)),
    resolveClient: createClientResolver(config.server.trustedProxies),
    upstreams,
    websockets,
    sessions,
    directory,
    offboarding,
    providers,
    bearer: createBearerVerifier(providers.oidc.values()),
    pats,
    signals: config.ssf && signalsReceiver(config, sessions, directory, offboarding),
    keys,
    isServedHost,
    servedAuthority: (host: string) => (host !== '' && isServedHost(host) ? `${host}${publicPort}` : publicAuthority),
    upstreamHeaders: { cookieName: sessions.cookie.name, reservedNames: new Set(config.reservedHeaders) },
    async close(successor?: Runtime) {
      providers.close(successor?.providers.reused);
      websockets.close();
      const keepSessions = successor?.sessions === sessions;
      const keepPats = successor?.pats.store === patStore;
      const keepDirectory = successor?.directory === directory;
      await Promise.all([
        upstreams.close(successor?.upstreams.pools),
        keepSessions ? undefined : sessions.close(),
        keepPats ? undefined : patStore.close(),
        keepDirectory ? undefined : directory.close(),
      ]);
    },
  });
}

/** Swept sessions as audit records: the same session_expired a presented cookie gets, with its user. */
function sweptAudit(onAuthEvent: RuntimeParts['onAuthEvent']): (ended: EndedSession[]) => void {
  return (ended) => {
    for (const { key, record, why } of ended) {
      onAuthEvent?.({ action: 'session_expired', outcome: 'success', reason: why, session: key, user: record, idp: record.idp });
    }
  };
}

/** Directory changes as audit records (iam): the IdP's client is the credential, the account the target. */
function directoryAudit(onAuthEvent: RuntimeParts['onAuthEvent']): ((c: DirectoryChange) => void) | undefined {
  if (!onAuthEvent) return undefined;
  return (c) => {
    const base = { outcome: 'success' as const, credential: c.actor, reason: c.actor.split(':')[0] };
    if (c.kind !== 'group_membership_changed') {
      onAuthEvent({ ...base, action: c.kind, targetUser: c.user, group: c.group });
      return;
    }
    for (const u of c.added ?? []) onAuthEvent({ ...base, action: 'group_member_added', targetUser: u, group: c.group });
    for (const u of c.removed ?? []) onAuthEvent({ ...base, action: 'group_member_removed', targetUser: u, group: c.group });
  };
}

/** The Shared Signals receiver: its events end access through the same offboarding as SCIM and the admin API. */
function signalsReceiver(config: Config, sessions: SessionManager, directory: Directory, offboarding: Offboarding): SignalsReceiver {
  return createSignalsReceiver({
    config: config.ssf!,
    identityProviders: config.identityProviders,
    replay: sessions.replay,
    effects: createSignalEffects({
      sessions: () => sessions,
      offboardUser: (user, options) => offboarding.offboardUser(user, options),
      setActive: (user, active, actor) => directory.setActive(user, active, actor),
    }),
  });
}

/**
 * Hosts forward-auth may describe (and so send sign-ins to): public_url's host and the named route
 * hosts (route/hosts.ts). A host-less route serves any host, but forward-auth still needs a name it
 * can redirect to safely.
 */
function servedHosts(config: Config): (host: string) => boolean {
  return createHostMatcher([
    new URL(config.server.publicUrl).hostname,
    ...config.routes.flatMap((r) => (r.host === undefined ? [] : [r.host])),
  ]);
}

function planRoute(route: RouteConfig, signer: ReturnType<typeof createAssertionSigner>): RoutePlan {
  const policy = compilePolicy(route);
  const apiMatchers = route.apiPaths.map((p) => compilePathPattern(p, route.caseInsensitivePaths));
  return {
    policy,
    headers: createHeaderPlan({ route, policy, signer }),
    isApiPath:
      apiMatchers.length === 0
        ? () => false
        : (path) => {
            const p = route.caseInsensitivePaths ? foldCase(path) : path;
            return apiMatchers.some((m) => m(p));
          },
  };
}
