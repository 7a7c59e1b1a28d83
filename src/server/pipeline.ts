// THE request walk. Read this file first: every request (and every WebSocket upgrade) goes
// through the stages below, in this order. A stage either returns (go on) or throws a
// GatehouseError, which ends the exchange with that error's status and page. README.md's "How a
// request is handled" table is the same list (test/server/walk-doc.test.ts keeps them in step).
//
//   1. accept      runtime snapshot, request id, client ip/proto/host (http/forwarded.ts)
//                  may answer: —
//   2. normalise   strict host; request target length; one normalised path for the upstream and
//                  its readings (route/canonical.ts); ambiguous paths are refused
//                  may answer: 400 GH_BAD_HOST, 414 GH_URI_TOO_LONG, 400 GH_BAD_PATH
//   3. route       host, then longest path prefix; every reading must pick the same route, which
//                  comes with its plan compiled at load
//                  may answer: 404 GH_NO_ROUTE, 400 GH_BAD_PATH
//   4. identify    session cookie → store (idle/absolute checks, renewal), else a bearer token
//                  (Proxy-Authorization, else Authorization): a Gatehouse user token stands for
//                  its CLI session (looked up like a cookie's); a gatehouse_pat_ token is checked
//                  in the store and counts only on its routes; an IdP token is verified
//                  (introspected when opaque) and refused when issued before its user was
//                  revoked; a failure is recorded, and matters only where anonymous callers are refused
//                  may answer: 503 GH_STORE_UNAVAILABLE, 401 GH_BAD_TOKEN, 503 GH_IDP_UNAVAILABLE, 403 GH_ACCOUNT_DISABLED
//   5. internal    /.gatehouse/* answered by Gatehouse, never proxied (the token page too)
//                  may answer: 404 GH_NOT_FOUND, 403 GH_BAD_CSRF, 429 GH_TOO_MANY_TOKENS
//   6. authorize   route policy over every reading, evaluated once, strictest wins; no identity:
//                  browser 302 to sign-in, API client 401; identity not allowed: 403
//                  may answer: 302/303, 401 GH_UNAUTHENTICATED, 403 GH_FORBIDDEN
//   7. inject      identity headers and the signed assertion for the upstream
//                  may answer: 431 GH_HEADERS_TOO_LARGE
//   8. proxy       HTTP via undici, WebSocket via http-proxy-3; the Gatehouse cookie never goes
//                  upstream; live connections are closed when their session ends
//                  may answer: 502 GH_UPSTREAM_UNREACHABLE, 502 GH_UPSTREAM_RESET, 504 GH_UPSTREAM_TIMEOUT, 503 GH_UPSTREAM_BUSY, 408 GH_REQUEST_TIMEOUT
//   9. finish      metrics, then the audit records: this request's auth events, then the request
//                  (server/finish.ts)
//                  may answer: —
//
// Three walks share these stages, chosen after stage 2: a proxied request (walkProxy: 3, 4, 6, 7,
// then 8), a forward-auth check (walkForwardAuth: the ingress's request judged by 3, 4, 6, 7,
// answered 200 instead of 8) and Gatehouse's own endpoints (walkInternal: 3, 4, 5). Before any of
// them, with audit.on_sink_failure: block, a request the audit trail cannot take is refused (503
// GH_AUDIT_UNAVAILABLE).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../admin/metrics.ts';
import type { RouteConfig } from '../config/types.ts';
import type { AuditWriter } from '../audit/writer.ts';
import { refusalEvent } from '../audit/events.ts';
import { errorSpec, ForbiddenError, GatehouseError, toGatehouseError } from '../errors.ts';
import { createOutageLog, type Logger } from '../log.ts';
import { bearerCredential } from '../auth/bearer/credential.ts';
import { refuseRevokedBearer } from '../auth/bearer/revoked.ts';
import { identifyUserToken, isUserToken } from '../auth/bearer/user-token.ts';
import { isPatToken } from '../auth/bearer/pat.ts';
import { sendIdpRetryPage } from '../auth/oidc/errors.ts';
import { applyDirectory } from '../directory/apply.ts';
import { directoryInUse } from '../directory/create.ts';
import { ACCOUNT_DISABLED } from '../directory/offboard.ts';
import { handleScim, isScimPath } from '../directory/scim/handler.ts';
import { evaluateReadings } from '../policy/evaluate.ts';
import { endStream, proxyHttp, type ProxyHooks } from '../proxy/http.ts';
import { endTunnel, upgradeNotSupported, type WebSocketHooks } from '../proxy/websocket.ts';
import type { RouteMatch } from '../route/table.ts';
import type { RoutePlan, Runtime } from '../runtime.ts';
import type { Identity } from '../identity/identity.ts';
import type { SessionManager } from '../session/manager.ts';
import { Exchange } from '../http/exchange.ts';
import { AUTH_PATH, SSF_EVENTS_PATH } from '../http/endpoints.ts';
import { requestIdFor } from '../http/request-id.ts';
import { sendError } from '../http/respond.ts';
import { createFinish, createWebSocketOpened } from './finish.ts';
import { retargetForwardAuth, sendForwardAuthAllow } from './forward-auth.ts';
import { handleInternal, isInternalPath } from './internal.ts';
import { applyHost, applyTarget, faultyHead } from './target.ts';

export interface PipelineDeps {
  /** The runtime for new requests; read once per request. */
  current(): Runtime;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Client sockets of open WebSocket tunnels, so shutdown can close them. */
  readonly tunnels: Set<Duplex>;
  /** The audit trail (process-wide: it outlives reloads). */
  readonly audit: AuditWriter;
}

export interface Pipeline {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

type Matched = RouteMatch<RoutePlan>;

export function createPipeline(deps: PipelineDeps): Pipeline {
  const { metrics, log } = deps;
  const finish = createFinish(deps);
  const opened = createWebSocketOpened(deps);
  // Dependency outages are logged as episodes (log.ts), not one line per refused request.
  const outages = createOutageLog(log);
  const onUpstreamError = (ex: Exchange, err: GatehouseError) => {
    const route = ex.route?.name ?? '';
    metrics.upstreamErrors.inc({ route, code: err.code });
    outages.refused(
      err.code,
      { route },
      { request_id: ex.id, err: err.cause instanceof Error ? err.cause.message : undefined },
      err.message,
      'warn',
    );
  };
  const httpHooks: ProxyHooks = {
    onUpstreamError,
    // Open-ended responses (SSE, streams) end with the session, like WebSockets.
    onStream: (ex) => followSession(ex, deps.current(), (why) => endStream(ex, (ex.liveEnd = `session ${why}`))),
  };
  const wsHooks: WebSocketHooks = {
    onOpen(ex) {
      opened(ex);
      deps.tunnels.add(ex.socket);
      metrics.websocketsOpen.inc({ route: ex.route?.name ?? '' });
      followSession(ex, deps.current(), (why) => endTunnel(ex, (ex.liveEnd = `session ${why}`)));
    },
    onClose(ex) {
      if (ex.upgraded) {
        deps.tunnels.delete(ex.socket);
        metrics.websocketsOpen.dec({ route: ex.route?.name ?? '' });
      }
      finish(ex);
    },
    onUpstreamError,
  };

  const fail = createFail(log, outages);

  return {
    onRequest(req, res) {
      const rt = deps.current();
      const ex = accept(rt, req, res, req.socket);
      // A response closes once, and finish runs once anyway (closeOnce): `on` spares once's wrapper.
      res.on('close', () => finish(ex));
      walkThen(ex, rt, proxyTo);
    },
    onUpgrade(req, socket, head) {
      const rt = deps.current();
      const ex = accept(rt, req, undefined, socket);
      // Whichever ends the exchange first finishes it: this socket, or the tunnel (wsHooks.onClose).
      socket.once('close', () => finish(ex));
      socket.on('error', () => socket.destroy());
      walkThen(ex, rt, (_ex, _rt, route) => {
        if (!route) return;
        if (String(req.headers.upgrade).toLowerCase() !== 'websocket') throw upgradeNotSupported();
        checkOrigin(ex, route);
        rt.websockets.proxy(ex, route, head, rt.upstreamHeaders, wsHooks);
      });
    },
  };

  /** Walk `ex`, then `next` with its route: in the same tick when nothing was pending; any failure answered by fail. */
  function walkThen(ex: Exchange, rt: Runtime, next: (ex: Exchange, rt: Runtime, route: Walked) => void): void {
    try {
      const walked = walk(ex, rt, deps.audit);
      if (walked instanceof Promise) walked.then((route) => next(ex, rt, route)).catch((err) => fail(ex, err));
      else next(ex, rt, walked);
    } catch (err) {
      fail(ex, err);
    }
  }

  function proxyTo(ex: Exchange, rt: Runtime, route: Walked): void {
    if (route) proxyHttp(ex, route, rt.upstreams.pool(route), rt.upstreamHeaders, httpHooks);
  }
}

/** Answer `ex` with `err` (any thrown value); if even that fails, cut the connection. */
function createFail(log: Logger, outages: ReturnType<typeof createOutageLog>): (ex: Exchange, err: unknown) => void {
  const answerError = (ex: Exchange, err: unknown) => {
    // Already answered (the drain deadline answered it while this request was still at work).
    if (ex.res?.writableEnded) return;
    const gerr = toGatehouseError(err);
    // A bug gets its stack; a dependency that is down gets an episode (no stack, counted).
    if (gerr.code === 'GH_INTERNAL' || gerr.code === 'GH_CONFIG_INVALID')
      log.error({ request_id: ex.id, code: gerr.code, err: gerr.cause ?? gerr }, gerr.message);
    else if (gerr.status >= 500)
      outages.refused(
        gerr.code,
        undefined,
        { request_id: ex.id, err: gerr.cause instanceof Error ? gerr.cause.message : undefined },
        gerr.message,
      );
    const audit = errorSpec(gerr.code).audit;
    if (audit) ex.event(refusalEvent(audit.action, audit.reason, gerr));
    // An IdP that did not answer: browsers get a page that starts the same sign-in again.
    if (gerr.code === 'GH_IDP_UNAVAILABLE' && sendIdpRetryPage(ex, gerr)) return;
    sendError(ex, gerr);
  };
  return (ex: Exchange, err: unknown) => {
    try {
      answerError(ex, err);
    } catch (e) {
      // Rendering the error failed too: end the connection rather than leave it hanging.
      log.error({ request_id: ex.id, err: (e as Error).message }, 'could not send the error response');
      ex.res?.destroy();
      if (!ex.res) ex.socket.destroy();
    }
  };
}

// Stage 1: everything later stages need about the request, computed once.
function accept(rt: Runtime, req: IncomingMessage, res: ServerResponse | undefined, socket: Duplex): Exchange {
  const start = performance.now();
  const client = rt.resolveClient(req);
  const id = requestIdFor(req.headers['x-request-id'], client.trusted);
  return new Exchange(id, start, req, res, socket, client);
}

/** The route to proxy to, or undefined when Gatehouse answered itself. */
type Walked = RouteConfig | undefined;

/**
 * Stages 2–7: the audit gate and normalise, then the walk the request needs. Gives the route to
 * proxy to, or undefined when Gatehouse answered itself; throws (or rejects) a GatehouseError. A
 * proxied request whose session is cached and whose headers are made gets its answer without a
 * promise (identify, inject): nothing is pending, so it is proxied in the same tick.
 */
function walk(ex: Exchange, rt: Runtime, audit: AuditWriter): Walked | Promise<Walked> {
  // on_sink_failure: block — no request is served that could not be recorded.
  if (!audit.canAccept()) throw new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the audit trail cannot take records');
  normalise(ex, rt);
  // Forward-auth (nginx auth_request, Traefik forwardAuth, Envoy ext_authz) answers, never proxies.
  if (ex.path === AUTH_PATH && ex.res !== undefined) return walkForwardAuth(ex, rt);
  if (isInternalPath(ex.path)) return walkInternal(ex, rt);
  return walkProxy(ex, rt);
}

// identify and inject answer without a promise when they can (a cached session, memoised
// headers): only what is pending is waited for, which spares the request its promise ticks.
function walkProxy(ex: Exchange, rt: Runtime): RouteConfig | Promise<RouteConfig> {
  ex.proxied = false;
  const r = route(ex, rt);
  const identified = identify(ex, rt);
  if (identified instanceof Promise) return identified.then((failure) => admit(ex, rt, r, failure));
  return admit(ex, rt, r, identified);
}

/** Stages 6 and 7 once identify is done: the route, when its identity headers are made. */
function admit(ex: Exchange, rt: Runtime, r: Matched, failure: Identified): RouteConfig | Promise<RouteConfig> {
  authorize(ex, r, failure);
  const injected = inject(ex, rt, r);
  return injected === undefined ? r.route : injected.then(() => r.route);
}

/** The request the ingress describes, judged like our own; answered 200 with identity headers. */
async function walkForwardAuth(ex: Exchange, rt: Runtime): Promise<undefined> {
  retargetForwardAuth(ex, rt.config.forwardAuth?.headers, rt.config.server.maxTargetBytes, rt.isServedHost);
  const r = route(ex, rt);
  await admit(ex, rt, r, await identify(ex, rt));
  sendForwardAuthAllow(ex);
  return undefined;
}

/**
 * Gatehouse's own endpoints answer on every host it serves, whether or not a route covers the path
 * (a sign-in must work where only /app is routed).
 */
async function walkInternal(ex: Exchange, rt: Runtime): Promise<undefined> {
  if (!ex.res) throw new GatehouseError('GH_NOT_FOUND', 'There is no WebSocket endpoint under /.gatehouse/.');
  internalRoute(ex, rt);
  // SCIM has its own credential (scim.token): no user identity is resolved for it.
  if (isScimPath(ex.path)) {
    await handleScim(ex, {
      config: rt.config.scim,
      directory: rt.directory,
      offboarding: rt.offboarding,
      publicUrl: rt.config.server.publicUrl,
    });
    return undefined;
  }
  // A Shared Signals push authenticates by its signature: a transmitter's own Authorization header
  // is not a Gatehouse credential, and no session or bearer token is looked up for it.
  if (ex.path !== SSF_EVENTS_PATH) {
    const failure = await identify(ex, rt);
    if (failure) throw failure;
  }
  await handleInternal(ex, rt);
  return undefined;
}

// Stage 2.
function normalise(ex: Exchange, rt: Runtime): void {
  const faulty = faultyHead(ex.req);
  if (faulty) {
    // Whatever follows on this connection cannot be trusted to be framed as the client meant.
    if (ex.res) ex.res.shouldKeepAlive = false;
    ex.req.socket.once('finish', () => ex.req.socket.destroy());
    throw new GatehouseError(faulty.code, faulty.message);
  }
  applyHost(ex, ex.client.host);
  ex.servedAuthority = rt.servedAuthority(ex.host);
  applyTarget(ex, ex.req.url ?? '', rt.config.server.maxTargetBytes);
}

// Stage 3: the route, with its plan (policy, header plan, api_paths) compiled at load.
function route(ex: Exchange, rt: Runtime): Matched {
  const r = rt.routes.select(ex.host, ex.readings);
  if (r === 'ambiguous')
    throw new GatehouseError(
      'GH_BAD_PATH',
      'The request path was refused: its spellings (";params", trailing dots or spaces, Unicode forms) belong to different applications.',
    );
  if (!r) throw new GatehouseError('GH_NO_ROUTE', `No application is configured at ${ex.authority || ex.host || 'this host'}${ex.path}.`);
  ex.route = r.route;
  if (ex.encodedEscape && !r.route.allowEncodedEscapes) {
    throw new GatehouseError(
      'GH_BAD_PATH',
      'The request path was refused: an escape survives decoding ("%25XX"), which a second decoder would read as another path.',
    );
  }
  return r;
}

/** Stage 3 for /.gatehouse/*: the route covering the path, if any (its host and idps matter to sign-in). */
function internalRoute(ex: Exchange, rt: Runtime): void {
  const route = rt.routes.matchReadings(ex.host, ex.readings);
  if (route !== undefined && route !== 'ambiguous') ex.route = route;
  else if (!rt.routes.servesHost(ex.host))
    throw new GatehouseError('GH_NO_ROUTE', `No application is configured at ${ex.authority || ex.host || 'this host'}.`);
}

type Lookup = Awaited<ReturnType<SessionManager['lookup']>>;
type Identified = GatehouseError | undefined;

/**
 * Stage 4: who is asking — ex.identity (and ex.session) from the session cookie, else a bearer
 * token. A credential that could not be checked (store down, bad token) is returned, not thrown:
 * whether it matters is the policy's call (authorize), where anyone may pass it does not.
 * A session the near cache holds is answered without a promise.
 */
function identify(ex: Exchange, rt: Runtime): Identified | Promise<Identified> {
  const value = rt.sessions.cookie.read(ex.req.headers.cookie);
  if (value === undefined) return identifyBearer(ex, rt);
  let found: Lookup | Promise<Lookup>;
  try {
    found = rt.sessions.lookupNow(value);
  } catch (err) {
    return toGatehouseError(err);
  }
  if (found instanceof Promise)
    return found.then(
      (f) => identified(ex, rt, f),
      (err: unknown) => toGatehouseError(err),
    );
  return identified(ex, rt, found);
}

function identified(ex: Exchange, rt: Runtime, found: Lookup): Identified | Promise<Identified> {
  return useSession(ex, rt, found) ? directoryCheck(ex, rt) : identifyBearer(ex, rt);
}

/** Stage 4 without a session: a bearer token, if any. */
async function identifyBearer(ex: Exchange, rt: Runtime): Promise<Identified> {
  // Proxy-Authorization: Bearer first, else Authorization: Bearer unless the route gives
  // Authorization to its tool (bearer_header; auth/bearer/credential.ts).
  const credential = bearerCredential(ex.req.headers, ex.route?.bearerHeader);
  if (credential === undefined) return undefined;
  // Gatehouse's own user tokens (`gatehouse login`) stand for a CLI session: no IdP is asked.
  if (isUserToken(credential.token)) return identifyUserToken(ex, credential.token, rt.keys, rt.config.server.publicUrl, rt.sessions);
  // A personal access token (gatehouse_pat_…) is Gatehouse's own: checked in its store, scoped
  // to routes, never passed on as an access token (auth/bearer/pat.ts).
  const pat = isPatToken(credential.token);
  if (!pat && !rt.bearer.enabled) return undefined;
  ex.browser = false;
  try {
    if (pat) {
      ex.identity = await rt.pats.verify(credential.token, ex.route?.name, (t) => (ex.token = t));
      // Unlike an IdP's access token, Gatehouse's own long-lived credential is not the tool's: it
      // never goes upstream (from Proxy-Authorization it is dropped as hop-by-hop anyway).
      if (credential.header === 'authorization') delete ex.req.headers.authorization;
    } else {
      const identity = await rt.bearer.verify(credential.token);
      // Issued before DELETE /admin/users/<user>/sessions: revoked with the user's sessions.
      await refuseRevokedBearer(identity, rt.sessions.notBefore);
      ex.identity = identity;
      ex.bearerToken = credential.token;
    }
  } catch (err) {
    return toGatehouseError(err);
  }
  return directoryCheck(ex, rt);
}

/** Stage 4, last: the IdP's directory (SCIM, Shared Signals) may have deactivated the user or changed their groups. */
function directoryCheck(ex: Exchange, rt: Runtime): Identified | Promise<Identified> {
  if (!ex.identity || !directoryInUse(rt.config)) return undefined;
  return directoryApply(ex, rt, ex.identity);
}

async function directoryApply(ex: Exchange, rt: Runtime, identity: Identity): Promise<Identified> {
  try {
    // Without SCIM nothing pushes groups (Shared Signals only (de)activates): the sign-in's groups stay.
    const applied = await applyDirectory(rt.directory, rt.config.scim?.groups ?? 'merge', identity);
    if (applied.active) {
      ex.identity = applied.identity;
      return undefined;
    }
  } catch (err) {
    ex.identity = undefined;
    ex.session = undefined;
    return toGatehouseError(err);
  }
  ex.identity = undefined;
  ex.session = undefined;
  return new GatehouseError('GH_ACCOUNT_DISABLED', ACCOUNT_DISABLED);
}

/** True when the cookie named a live session; a dead one is recorded and told to go. */
function useSession(ex: Exchange, rt: Runtime, found: Lookup): boolean {
  if (found.state === 'active') {
    const r = found.record;
    ex.session = { key: found.key, record: r };
    // The record is an Identity; reusing the object lets per-identity work be memoised.
    ex.identity = r;
    // Tokens due for refresh are renewed in the background; this request goes on.
    rt.providers.refresher.maybeRefresh(found.key, r);
    return true;
  }
  if (found.state === 'revoked') ex.event({ action: 'session_revoked', outcome: 'success', reason: 'revoked', session: found.key });
  else if (found.state === 'expired')
    ex.event({ action: 'session_expired', outcome: 'success', reason: found.why, session: found.key, user: found.record });
  // The browser keeps sending a dead cookie until told to drop it.
  (ex.setCookies ??= []).push(rt.sessions.cookie.clear());
  return false;
}

/**
 * Stage 6: the route's policy, evaluated once. What identify could not check (`failure`) is the
 * answer only where an anonymous caller would be refused; a public route serves the request anyway.
 */
function authorize(ex: Exchange, r: Matched, failure: GatehouseError | undefined): void {
  const route = r.route;
  // A session from an IdP this route does not accept counts as no session: sign in again.
  if (ex.identity && route.idps && !route.idps.includes(ex.identity.idp)) ex.identity = undefined;
  const identity = ex.identity;
  const decision = evaluateReadings(r.plan.policy, identity, ex.method, ex.readings);
  if (failure && !decision.allow) throw failure;
  // api_paths: refusals from here on are JSON for every client, never a redirect.
  if (r.plan.isApiPath(ex.policyPath)) ex.browser = false;
  ex.policy = decision;
  if (decision.allow) {
    ex.decision = decision.reason === 'public-route' ? 'public' : 'allow';
    return;
  }
  if (decision.reason === 'user-unauthenticated' || !identity) {
    ex.decision = 'unauthenticated';
    throw new GatehouseError('GH_UNAUTHENTICATED', `Sign in to use ${route.name}.`);
  }
  ex.decision = 'deny';
  throw new ForbiddenError(route.name, identity.user, decision.grantingGroups);
}

// Stage 7: the verified identity as headers (and the signed assertion) for the upstream. Returns
// a promise only while the headers are still being made (an assertion being signed).
function inject(ex: Exchange, rt: Runtime, r: Matched): Promise<void> | undefined {
  if (!ex.identity) return undefined;
  let accessToken = ex.bearerToken;
  if (accessToken === undefined && r.route.passAccessToken && ex.session) {
    accessToken = rt.sessions.tokens(ex.session.key, ex.session.record)?.access_token;
  }
  const headers = r.plan.headers.build(ex.identity, accessToken);
  if (!(headers instanceof Promise)) {
    ex.identityHeaders = headers;
    return undefined;
  }
  return headers.then((h) => {
    ex.identityHeaders = h;
  });
}

/**
 * Cross-site WebSocket hijacking guard: a browser always sends Origin with an upgrade; it must be
 * the route's own host (as the client addressed it) or one of `allowed_origins`. Clients that send
 * no Origin (SDKs, CLIs) are not browsers and pass.
 */
function checkOrigin(ex: Exchange, route: RouteConfig): void {
  const origin = ex.req.headers.origin;
  if (origin === undefined) return;
  const o = origin.toLowerCase();
  if (route.allowedOrigins.includes(o)) return;
  let host: string;
  try {
    host = new URL(o).host;
  } catch {
    host = '';
  }
  if (host !== '' && host === ex.authority) return;
  ex.decision = 'deny';
  throw new GatehouseError('GH_FORBIDDEN', `WebSocket connections to ${route.name} from ${origin} are not allowed.`);
}

/**
 * Tie a live connection to its session: `end` runs when the session is revoked or expires. One
 * opened with a personal access token follows the token the same way (revoked on any replica,
 * or gone from the token store at a re-check).
 */
function followSession(ex: Exchange, rt: Runtime, end: (why: 'revoked' | 'expired') => void): (() => void) | undefined {
  const sessions = rt.sessions;
  const session = ex.session;
  if (!session) return followToken(ex, rt, end);
  const unwatch = sessions.watch(session.key, session.record, { end });
  if (ex.res) return unwatch; // the HTTP caller unwatches when the response closes
  ex.socket.on('data', () => sessions.activity(session.key));
  ex.socket.once('close', unwatch);
  return unwatch;
}

function followToken(ex: Exchange, rt: Runtime, end: (why: 'revoked' | 'expired') => void): (() => void) | undefined {
  // ex.token is set as soon as a token is presented; only one that verified stands for the identity.
  if (!ex.token || !ex.identity) return undefined;
  const store = rt.pats.store;
  const unwatch = rt.sessions.watchToken(ex.token.id, { end }, (id) => store.get(id));
  if (!ex.res) ex.socket.once('close', unwatch);
  return unwatch;
}
