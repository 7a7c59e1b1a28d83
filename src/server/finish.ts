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
    metrics.requests.inc({ route, status: String(status) });
    metrics.duration.observe({ route }, durationMs / 1000);
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

/** Run `finish` for the first close of `ex` only: an upgrade has several owners of its end. */
export function closeOnce(ex: Exchange, finish: (ex: Exchange) => void): void {
  if (ex.finished) return;
  ex.finished = true;
  finish(ex);
}

function queryKeys(query: string): string[] {
  if (query.length <= 1) return [];
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
  let n = `${r.method} ${r.url} HTTP/${r.httpVersion}\r\n\r\n`.length;
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
    rule: ex.policy?.rule,
    errorCode: ex.errorCode,
    user: userFacts(ex.identity),
    authMethod: ex.identity ? (ex.session ? 'session' : 'bearer') : undefined,
    session: ex.session?.key,
    clientIp: ex.client.ip,
    userAgent: userAgentFact(ex.req.headers['user-agent']),
    upstream: ex.route ? `${ex.route.upstream.origin}${ex.route.upstream.basePath}` : undefined,
    bytesIn,
    bytesOut,
    durationMs,
    websocket: ex.upgraded,
    endReason: ex.liveEnd,
  };
}

/** Who and where, for the auth events seen while handling `ex`. */
export function eventContext(ex: Exchange): EventContext {
  return {
    requestId: ex.id,
    identity: ex.identity,
    session: ex.session?.key,
    clientIp: ex.client.ip,
    userAgent: userAgentFact(ex.req.headers['user-agent']),
  };
}
