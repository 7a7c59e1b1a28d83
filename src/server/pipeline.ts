// THE request walk. Read this file first: every request (and every WebSocket upgrade) goes
// through the stages below, in this order. A stage either returns (go on) or throws a
// GatehouseError, which ends the exchange with that error's status and page.
//
//   1. accept      runtime snapshot, request id, client ip/proto/host      (listener → here)
//   2. normalise   strict host; one normalised path for the upstream and    400 GH_BAD_HOST, 414 GH_URI_TOO_LONG,
//                  its readings (route/canonical.ts); ambiguous refused     400 GH_BAD_PATH
//   3. route       host, then longest path prefix; every reading must      404 GH_NO_ROUTE, 400 GH_BAD_PATH
//                  pick the same route
//   4. identify    session cookie → store (idle/absolute checks, renewal)   503 GH_STORE_UNAVAILABLE
//                  (bearer tokens: issue #5)                                (protected routes only)
//   5. internal    /.gatehouse/* answered by Gatehouse, never proxied       404 GH_NOT_FOUND, 403 GH_BAD_CSRF
//   6. authorize   route policy over every reading, strictest wins; no      302, 401 GH_UNAUTHENTICATED,
//                  identity → browser 302 to sign-in, API client 401;       403 GH_FORBIDDEN
//                  identity not allowed → 403
//   7. inject      identity headers, assertion JWT (issue #5)               —
//   8. proxy       HTTP via undici, WebSocket via http-proxy-3; the         502/504 GH_UPSTREAM_*
//                  Gatehouse cookie never goes upstream; live connections
//                  are closed when their session ends
//   9. finish      metrics (and the audit record, issue #7) on close        —
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../admin/metrics.ts';
import type { RouteConfig } from '../config/compile.ts';
import { authFacts, requestFacts, requestHeadBytes } from '../audit/facts.ts';
import type { AuditWriter } from '../audit/writer.ts';
import { ForbiddenError, GatehouseError, toGatehouseError } from '../errors.ts';
import { createOutageLog, type Logger } from '../log.ts';
import { sendIdpRetryPage } from '../auth/oidc/errors.ts';
import { evaluateReadings } from '../policy/evaluate.ts';
import { endStream, proxyHttp, type ProxyHooks } from '../proxy/http.ts';
import { endTunnel, upgradeNotSupported, type WebSocketHooks } from '../proxy/websocket.ts';
import type { RoutePlan, Runtime } from '../runtime.ts';
import { Exchange } from '../http/exchange.ts';
import { handleInternal, isInternalPath } from './internal.ts';
import { retargetForwardAuth, sendForwardAuthAllow } from './forward-auth.ts';
import { AUTH_PATH } from '../http/endpoints.ts';
import { requestIdFor } from '../http/request-id.ts';
import { sendError } from '../http/respond.ts';
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

export function createPipeline(deps: PipelineDeps): Pipeline {
  const { metrics, log } = deps;

  // Dependency outages are logged as episodes (log.ts), not one line per refused request.
  const outages = createOutageLog(log);
  const onUpstreamError = (ex: Exchange, err: GatehouseError) => {
    const route = ex.route?.name ?? '';
    metrics.upstreamErrors.inc({ route, code: err.code });
    outages.refused(err.code, { route }, { request_id: ex.id, err: err.cause instanceof Error ? err.cause.message : undefined }, err.message, 'warn');
  };
  const httpHooks: ProxyHooks = {
    onUpstreamError,
    // Open-ended responses (SSE, streams) end with the session, like WebSockets.
    onStream: (ex) => followSession(ex, deps.current(), (why) => endStream(ex, (ex.liveEnd = `session ${why}`))),
  };
  const wsHooks: WebSocketHooks = {
    onOpen(ex) {
      deps.tunnels.add(ex.socket);
      metrics.websocketsOpen.inc({ route: ex.route!.name });
      followSession(ex, deps.current(), (why) => endTunnel(ex, (ex.liveEnd = `session ${why}`)));
    },
    onClose(ex) {
      if (ex.upgraded) {
        deps.tunnels.delete(ex.socket);
        metrics.websocketsOpen.dec({ route: ex.route!.name });
      }
      finish(ex);
    },
    onUpstreamError,
  };

  // Stage 9: once per exchange, when the response (or tunnel) is over: metrics, then the audit
  // trail — the auth events this request caused, then the request record itself.
  const finish = (ex: Exchange) => {
    const route = ex.route?.name ?? '';
    const status = ex.status || (ex.res ? ex.res.statusCode : 0);
    const durationMs = performance.now() - ex.start;
    metrics.requests.inc({ route, status: String(status) });
    metrics.duration.observe({ route }, durationMs / 1000);
    // A request refused because the audit trail is full (block mode) cannot be recorded: queueing
    // its record would grow memory without bound. It is counted, and summed up in one record later.
    if (!deps.audit.enabled) return;
    if (ex.errorCode === 'GH_AUDIT_UNAVAILABLE') {
      metrics.auditRefused.inc();
      deps.audit.noteRefused(Date.now());
      return;
    }
    const time = Date.now();
    try {
      if (ex.events) for (const e of ex.events) deps.audit.write(authFacts(ex, e, time));
      // The socket captured at arrival: req.socket is detached (null) once a response closes.
      const sock = ex.socket as Socket;
      // Bytes in: request line and headers, plus the declared body, or (chunked) what the socket
      // read after the headers; a small body may already have been read with them.
      const declared = Number(ex.req.headers['content-length']);
      const body = Number.isFinite(declared) && declared >= 0 ? declared : Math.max(0, (sock.bytesRead ?? 0) - ex.bytesReadAtStart);
      deps.audit.write(requestFacts(ex, time, durationMs, requestHeadBytes(ex) + body, (sock.bytesWritten ?? 0) - ex.bytesWrittenAtStart));
    } catch (err) {
      // Runs from a 'close' event: throwing here would take the whole process down.
      log.error({ request_id: ex.id, err: (err as Error).message }, 'writing the audit record failed');
    }
  };

  const fail = (ex: Exchange, err: unknown) => {
    try {
      answerError(ex, err);
    } catch (e) {
      // Rendering the error failed too: end the connection rather than leave it hanging.
      log.error({ request_id: ex.id, err: (e as Error).message }, 'could not send the error response');
      ex.res?.destroy();
      if (!ex.res) ex.socket.destroy();
    }
  };

  const answerError = (ex: Exchange, err: unknown) => {
    // Already answered (the drain deadline answered it while this request was still at work).
    if (ex.res?.writableEnded) return;
    const gerr = toGatehouseError(err);
    // A bug gets its stack; a dependency that is down gets an episode (no stack, counted).
    if (gerr.code === 'GH_INTERNAL' || gerr.code === 'GH_CONFIG_INVALID') log.error({ request_id: ex.id, code: gerr.code, err: gerr.cause ?? gerr }, gerr.message);
    else if (gerr.status >= 500) outages.refused(gerr.code, undefined, { request_id: ex.id, err: gerr.cause instanceof Error ? gerr.cause.message : undefined }, gerr.message);
    if (gerr.code === 'GH_LOGIN_FAILED') ex.event({ action: 'login_failed', outcome: 'failure', reason: 'login_failed', message: gerr.message });
    if (gerr.code === 'GH_BAD_TOKEN') ex.event({ action: 'bearer_rejected', outcome: 'failure', reason: 'invalid_token', message: gerr.message });
    // An IdP that did not answer: browsers get a page that starts the same sign-in again.
    if (gerr.code === 'GH_IDP_UNAVAILABLE' && sendIdpRetryPage(ex, gerr)) return;
    sendError(ex, gerr);
  };

  return {
    onRequest(req, res) {
      const rt = deps.current();
      const ex = accept(rt, req, res, req.socket);
      res.once('close', () => finish(ex));
      walk(ex, rt, deps.audit).then(
        (route) => {
          if (route) proxyHttp(ex, route, rt.upstreams.pool(route), rt.upstreamHeaders, httpHooks);
        },
      ).catch((err) => fail(ex, err));
    },
    onUpgrade(req, socket, head) {
      const rt = deps.current();
      const ex = accept(rt, req, undefined, socket);
      let closed = false;
      socket.once('close', () => {
        if (!closed && !ex.upgraded) finish(ex);
        closed = true;
      });
      socket.on('error', () => socket.destroy());
      walk(ex, rt, deps.audit).then(
        (route) => {
          if (!route) return;
          if (String(req.headers.upgrade).toLowerCase() !== 'websocket') throw upgradeNotSupported();
          checkOrigin(ex, route);
          closed = true; // from here the WebSocket hooks own finish()
          rt.websockets.proxy(ex, route, head, rt.upstreamHeaders, wsHooks);
        },
      ).catch((err) => fail(ex, err));
    },
  };
}

// Stage 1: everything later stages need about the request, computed once.
function accept(rt: Runtime, req: IncomingMessage, res: ServerResponse | undefined, socket: Duplex): Exchange {
  const start = performance.now();
  const client = rt.resolveClient(req);
  const id = requestIdFor(req.headers['x-request-id'], client.trusted);
  return new Exchange(id, start, req, res, socket, client);
}

// Stages 2–7. Resolves with the route to proxy to, or undefined when Gatehouse answered itself;
// rejects with a GatehouseError.
async function walk(ex: Exchange, rt: Runtime, audit: AuditWriter): Promise<RouteConfig | undefined> {
  // on_sink_failure: block — no request is served that could not be recorded.
  if (!audit.canAccept()) throw new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the audit trail cannot take records');
  normalise(ex, rt);
  // Forward-auth (nginx auth_request, Traefik forwardAuth, Envoy ext_authz): decide about the
  // request the ingress describes, then answer instead of proxying.
  const forwardAuth = ex.path === AUTH_PATH && ex.res !== undefined;
  // From here on the exchange describes the ingress's request, parsed like our own; paths under
  // /.gatehouse/ are refused there, never allowed unjudged.
  if (forwardAuth) retargetForwardAuth(ex, rt.config.forwardAuth?.headers, rt.config.server.maxTargetBytes, rt.isServedHost);
  else if (isInternalPath(ex.path)) {
    // Gatehouse's own endpoints answer on every host it serves, whether or not a route covers
    // the path (a sign-in must work where only /app is routed).
    if (!ex.res) throw new GatehouseError('GH_NOT_FOUND', 'There is no WebSocket endpoint under /.gatehouse/.');
    selectInternalRoute(ex, rt);
    await identify(ex, rt, undefined);
    await handleInternal(ex, rt);
    return undefined;
  }
  const route = selectRoute(ex, rt);
  await identify(ex, rt, route);
  const plan = rt.plans.get(route.name)!;
  if (plan.isApiPath(ex.policyPath)) ex.browser = false;
  authorize(ex, plan, route);
  await inject(ex, rt, plan);
  if (!forwardAuth) return route;
  sendForwardAuthAllow(ex);
  return undefined;
}

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

function selectRoute(ex: Exchange, rt: Runtime): RouteConfig {
  const route = rt.routes.matchReadings(ex.host, ex.readings);
  if (route === 'ambiguous') throw new GatehouseError('GH_BAD_PATH', 'The request path was refused: its spellings (";params", trailing dots or spaces, Unicode forms) belong to different applications.');
  if (!route) throw new GatehouseError('GH_NO_ROUTE', `No application is configured at ${ex.host || 'this host'}${ex.path}.`);
  ex.route = route;
  if (ex.encodedEscape && !route.allowEncodedEscapes) {
    throw new GatehouseError('GH_BAD_PATH', 'The request path was refused: an escape survives decoding ("%25XX"), which a second decoder would read as another path.');
  }
  return route;
}

/** For /.gatehouse/*: the route covering the path, if any (its host and idps matter to sign-in). */
function selectInternalRoute(ex: Exchange, rt: Runtime): void {
  const route = rt.routes.matchReadings(ex.host, ex.readings);
  if (route !== undefined && route !== 'ambiguous') ex.route = route;
  else if (!rt.routes.servesHost(ex.host)) throw new GatehouseError('GH_NO_ROUTE', `No application is configured at ${ex.host || 'this host'}.`);
}

const END_REASONS = { invalid: 'invalid', idle: 'expired_idle', absolute: 'expired_absolute' } as const;

/** `route` is undefined for Gatehouse's own endpoints. */
async function identify(ex: Exchange, rt: Runtime, route: RouteConfig | undefined): Promise<void> {
  // Where the policy lets anyone in, identity is a bonus: failures to establish it do not block.
  const anonymousOk = () => route !== undefined && evaluateReadings(rt.plans.get(route.name)!.policy, undefined, ex.method, ex.readings).allow;
  const sessions = rt.sessions;
  const value = sessions.cookie.read(ex.req.headers.cookie);
  if (value !== undefined) {
    let found;
    try {
      found = await sessions.lookup(value);
    } catch (err) {
      if (anonymousOk()) return;
      throw err;
    }
    if (found.state === 'active') {
      const r = found.record;
      ex.session = { key: found.key, record: r };
      // The record is an Identity; reusing the object lets per-identity work be memoised.
      ex.identity = r;
      // Tokens due for refresh are renewed in the background; this request goes on.
      rt.providers.refresher.maybeRefresh(found.key, r);
      return;
    }
    ex.sessionEnd = found.state === 'revoked' ? 'revoked' : found.state === 'invalid' ? END_REASONS.invalid : END_REASONS[found.why];
    if (found.state === 'revoked') ex.event({ action: 'session_revoked', outcome: 'success', reason: 'revoked', session: found.key });
    else if (found.state === 'expired') ex.event({ action: 'session_expired', outcome: 'success', reason: found.why, session: found.key });
    // The browser keeps sending a dead cookie until told to drop it.
    (ex.setCookies ??= []).push(sessions.cookie.clear());
  }
  const authorization = ex.req.headers.authorization;
  if (authorization !== undefined && rt.bearer.enabled && /^bearer /i.test(authorization)) {
    ex.browser = false;
    try {
      const token = authorization.slice(7).trim();
      ex.identity = await rt.bearer.verify(token);
      ex.bearerToken = token;
    } catch (err) {
      if (anonymousOk()) return;
      throw err;
    }
  }
}

function authorize(ex: Exchange, plan: RoutePlan, route: RouteConfig): void {
  // A session from an IdP this route does not accept counts as no session: sign in again.
  if (ex.identity && route.idps && !route.idps.includes(ex.identity.idp)) ex.identity = undefined;
  const identity = ex.identity;
  const decision = evaluateReadings(plan.policy, identity, ex.method, ex.readings);
  ex.policy = decision;
  if (decision.allow) {
    ex.decision = decision.reason === 'public-route' ? 'public' : 'allow';
    return;
  }
  if (decision.reason === 'user-unauthenticated') {
    ex.decision = 'unauthenticated';
    throw new GatehouseError('GH_UNAUTHENTICATED', `Sign in to use ${route.name}.`);
  }
  ex.decision = 'deny';
  throw new ForbiddenError(route.name, identity!.user, decision.grantingGroups);
}

// Stage 7: the verified identity as headers (and the signed assertion) for the upstream.
async function inject(ex: Exchange, rt: Runtime, plan: RoutePlan): Promise<void> {
  if (!ex.identity) return;
  let accessToken = ex.bearerToken;
  if (accessToken === undefined && ex.route!.passAccessToken && ex.session) {
    accessToken = rt.sessions.tokens(ex.session.key, ex.session.record)?.access_token;
  }
  ex.identityHeaders = await plan.headers.build(ex.identity, accessToken);
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

/** Tie a live connection to its session: `end` runs when the session is revoked or expires. */
function followSession(ex: Exchange, rt: Runtime, end: (why: 'revoked' | 'expired') => void): (() => void) | undefined {
  const session = ex.session;
  if (!session) return undefined;
  const sessions = rt.sessions;
  const unwatch = sessions.watch(session.key, session.record, { end });
  if (ex.res) return unwatch; // the HTTP caller unwatches when the response closes
  ex.socket.on('data', () => sessions.activity(session.key));
  ex.socket.once('close', unwatch);
  return unwatch;
}
