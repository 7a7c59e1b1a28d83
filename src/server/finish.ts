// Stage 9, finish: once per exchange, when the response (or the WebSocket tunnel) is over — the
// request metrics, then the audit trail: the auth events this request caused, then the request
// record. The mapping from an exchange to audit facts (an allow-list: never raw headers, cookies,
// tokens or query values) and the byte counting live here, beside the one caller.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../admin/metrics.ts';
import { authFacts, userAgentFact, userFacts, type EventContext } from '../audit/events.ts';
import type { RequestFacts } from '../audit/record.ts';
import type { AuditWriter } from '../audit/writer.ts';
import type { Exchange } from '../http/exchange.ts';
import type { Logger } from '../log.ts';

export interface FinishDeps {
  readonly metrics: Metrics;
  /** The audit trail (process-wide: it outlives reloads). */
  readonly audit: AuditWriter;
  readonly log: Logger;
}

/**
 * The finish stage. Every 'close' that may end an exchange calls it (the response's, the upgrade
 * socket's, the WebSocket tunnel's); it does its work for the first one only (closeOnce).
 */
export function createFinish(deps: FinishDeps): (ex: Exchange) => void {
  const { metrics, audit, log } = deps;
  const finish = (ex: Exchange) => {
    const route = ex.route?.name ?? '';
    const status = ex.status || (ex.res ? ex.res.statusCode : 0);
    const durationMs = performance.now() - ex.start;
    metrics.recordRequest(route, status, durationMs / 1000);
    if (!audit.enabled) return;
    // A request refused because the audit trail is full (block mode) cannot be recorded: queueing
    // its record would grow memory without bound. It is counted, and summed up in one record later.
    if (ex.errorCode === 'GH_AUDIT_UNAVAILABLE') {
      metrics.auditRefused.inc();
      audit.noteRefused(Date.now());
      return;
    }
    const time = Date.now();
    try {
      if (ex.events) {
        const at = eventContext(ex);
        for (const e of ex.events) audit.write(authFacts(at, e, time));
      }
      audit.write(requestFacts(ex, time, durationMs, bytesIn(ex), bytesOut(ex)));
    } catch (err) {
      // Runs from a 'close' event: throwing here would take the whole process down.
      log.error({ request_id: ex.id, err: (err as Error).message }, 'writing the audit record failed');
    }
  };
  return (ex) => closeOnce(ex, finish);
}

/**
 * A WebSocket tunnel just opened (the upstream switched protocols): its own record now, so a SIEM
 * sees a long session when it starts, not only when it ends (the record at close still sums it up).
 */
export function createWebSocketOpened(deps: Pick<FinishDeps, 'audit' | 'log'>): (ex: Exchange) => void {
  const { audit, log } = deps;
  return (ex) => {
    if (!audit.enabled) return;
    try {
      audit.write({ ...requestFacts(ex, Date.now(), performance.now() - ex.start, bytesIn(ex), bytesOut(ex)), websocketOpen: true });
    } catch (err) {
      log.error({ request_id: ex.id, err: (err as Error).message }, 'writing the audit record failed');
    }
  };
}

/** Run `finish` for the first close of `ex` only: an upgrade has several owners of its end. */
export function closeOnce(ex: Exchange, finish: (ex: Exchange) => void): void {
  if (ex.finished) return;
  ex.finished = true;
  finish(ex);
}

const NO_QUERY_KEYS: readonly string[] = Object.freeze([]);

function queryKeys(query: string): readonly string[] {
  if (query.length <= 1) return NO_QUERY_KEYS;
  const keys = new Set<string>();
  for (const part of query.slice(1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const raw = eq === -1 ? part : part.slice(0, eq);
    try {
      keys.add(decodeURIComponent(raw.replace(/\+/g, ' ')).slice(0, 128));
    } catch {
      keys.add(raw.slice(0, 128));
    }
    if (keys.size >= 50) break;
  }
  return [...keys];
}

/** Bytes of the request line and headers as received (the socket had read them before we saw it). */
export function requestHeadBytes(ex: Exchange): number {
  const r = ex.req;
  // `${method} ${url} HTTP/${version}\r\n\r\n`, counted without building it.
  let n = String(r.method).length + String(r.url).length + String(r.httpVersion).length + 11;
  const raw = r.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) n += raw[i]!.length + raw[i + 1]!.length + 4;
  return n;
}

/**
 * Bytes in: the request line and headers, plus the declared body, or (chunked) what the socket
 * read after the headers; a small body may already have been read with them.
 */
export function bytesIn(ex: Exchange): number {
  // The socket captured at arrival: req.socket is detached (null) once a response closes.
  const sock = ex.socket as Partial<Socket>;
  const declared = Number(ex.req.headers['content-length']);
  const body = Number.isFinite(declared) && declared >= 0 ? declared : Math.max(0, (sock.bytesRead ?? 0) - ex.bytesReadAtStart);
  return requestHeadBytes(ex) + body;
}

/** Bytes out: what this exchange wrote to the socket (keep-alive sockets carry several). */
export function bytesOut(ex: Exchange): number {
  return ((ex.socket as Partial<Socket>).bytesWritten ?? 0) - ex.bytesWrittenAtStart;
}

export function requestFacts(ex: Exchange, time: number, durationMs: number, bytesIn: number, bytesOut: number): RequestFacts {
  return {
    kind: 'request',
    time,
    requestId: ex.id,
    route: ex.route?.name,
    method: ex.method,
    host: ex.host,
    // A refused path is recorded as received (bounded), a normalised one as routed.
    path: ex.path || (ex.req.url ?? '').split('?')[0]!.slice(0, 2048),
    queryKeys: queryKeys(ex.query || (ex.req.url?.includes('?') ? ex.req.url.slice(ex.req.url.indexOf('?')) : '')),
    // No answer sent (the client went away first): 499, as nginx records it — never a made-up 200.
    status: ex.status || (ex.res?.headersSent ? ex.res.statusCode : 499),
    decision: ex.decision ?? 'error',
    reason: ex.policy?.reason,
    rule: ex.policy?.rule === undefined ? undefined : ex.route?.rules[ex.policy.rule]?.id,
    errorCode: ex.errorCode,
    user: userFacts(ex.identity, ex.session?.record.subject),
    // A user token's CLI session is on the exchange (its record names it), but the credential was a bearer token.
    authMethod: ex.identity ? (ex.session && !ex.userToken ? 'session' : 'bearer') : undefined,
    credentialKind: ex.userToken
      ? 'user_token'
      : ex.session
        ? 'session_cookie'
        : (ex.identity as { readonly credential?: string } | undefined)?.credential,
    session: ex.session?.key,
    token: ex.token,
    clientIp: ex.client.ip,
    userAgent: userAgentFact(ex.req.headers['user-agent']),
    upstream: ex.route ? `${ex.route.upstream.origin}${ex.route.upstream.basePath}` : undefined,
    bytesIn,
    bytesOut,
    durationMs,
    websocket: ex.upgraded,
    endReason: ex.liveEnd,
    proxied: ex.proxied,
    scheme: ex.client.proto,
    port: connectionPort(ex),
    sourcePort: ex.client.trusted ? undefined : (ex.socket as Partial<Socket>).remotePort,
    httpVersion: httpVersion(ex.req.httpVersion),
    traceId: traceId(ex.req.headers.traceparent),
    grantingGroups: ex.decision === 'deny' && ex.policy?.grantingGroups.length ? ex.policy.grantingGroups : undefined,
  };
}

// How the client reached Gatehouse (requestFacts' scheme, port, sourcePort, httpVersion): scheme
// and port as it addressed them (behind a trusted proxy, the proxy's X-Forwarded-Proto and the
// Host's port), its own port only when it connected directly (behind a proxy the peer port is the
// proxy's), and the HTTP version. Read off the exchange: no parsing beyond the authority's port.

function connectionPort(ex: Exchange): number | undefined {
  const colon = ex.authority.lastIndexOf(':');
  const explicit = colon > ex.authority.lastIndexOf(']') ? Number(ex.authority.slice(colon + 1)) : NaN;
  if (Number.isInteger(explicit) && explicit > 0) return explicit;
  return ex.client.trusted ? (ex.client.proto === 'https' ? 443 : 80) : (ex.socket as Partial<Socket>).localPort;
}

function httpVersion(v: string): string | undefined {
  return v === '2.0' ? '2' : v || undefined;
}

/** W3C trace context: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; an all-zero id is invalid. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);

/** The trace id of a valid traceparent header, else undefined (the header is client-chosen text). */
export function traceId(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string' || header.length > 512) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m || m[1] === 'ff' || m[2] === ZERO_TRACE) return undefined;
  // Version 00 has exactly four fields; later versions may append more.
  if (m[1] === '00' && header.trim().length !== 55) return undefined;
  return m[2];
}

/** Who and where, for the auth events seen while handling `ex`. */
export function eventContext(ex: Exchange): EventContext {
  return {
    requestId: ex.id,
    identity: ex.identity,
    subject: ex.session?.record.subject,
    session: ex.session?.key,
    clientIp: ex.client.ip,
    userAgent: userAgentFact(ex.req.headers['user-agent']),
  };
}
