// Turn an exchange into audit facts: the allow-listed fields only, decided here in one place.
import type { Exchange } from '../http/exchange.ts';
import type { AuthAction, AuthFacts, RequestFacts, UserFacts } from './record.ts';
import type { Identity } from '../identity/identity.ts';

/** An auth event as the code that saw it knows it; the exchange fills in who and where. */
export interface AuthEventInput {
  readonly action: AuthAction;
  readonly outcome: 'success' | 'failure';
  readonly reason?: string | undefined;
  readonly message?: string | undefined;
  readonly user?: Identity | undefined;
  readonly idp?: string | undefined;
  readonly session?: string | undefined;
  /** For events outside a request exchange (admin API): who called. */
  readonly clientIp?: string | undefined;
}

const MAX_UA = 512;

export function userFacts(id: Identity | undefined): UserFacts | undefined {
  return id ? { name: id.user, email: id.email, groups: id.groups, idp: id.idp } : undefined;
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

export function requestFacts(ex: Exchange, time: number, durationMs: number, bytesIn: number, bytesOut: number): RequestFacts {
  const ua = ex.req.headers['user-agent'];
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
    userAgent: typeof ua === 'string' ? ua.slice(0, MAX_UA) : undefined,
    upstream: ex.route ? `${ex.route.upstream.origin}${ex.route.upstream.basePath}` : undefined,
    bytesIn,
    bytesOut,
    durationMs,
    websocket: ex.upgraded,
    endReason: ex.liveEnd,
  };
}

/** A request Node's parser refused before Gatehouse saw one (too large, too slow, malformed). */
export function refusalFacts(r: { readonly code: string; readonly status: number; readonly ip: string; readonly bytesIn: number }, time: number, requestId: string): RequestFacts {
  return {
    kind: 'request', time, requestId, route: undefined, method: '', host: '', path: '', queryKeys: [], status: r.status,
    decision: 'error', reason: undefined, rule: undefined, errorCode: r.code, user: undefined, authMethod: undefined,
    session: undefined, clientIp: r.ip, userAgent: undefined, upstream: undefined, bytesIn: r.bytesIn, bytesOut: 0,
    durationMs: 0, websocket: false, endReason: undefined,
  };
}

export function authFacts(ex: Exchange | undefined, e: AuthEventInput, time: number): AuthFacts {
  const ua = ex?.req.headers['user-agent'];
  const user = e.user ?? ex?.identity;
  return {
    kind: 'auth',
    time,
    action: e.action,
    outcome: e.outcome,
    reason: e.reason,
    user: userFacts(user),
    idp: e.idp ?? user?.idp,
    session: e.session ?? ex?.session?.key,
    requestId: ex?.id,
    clientIp: e.clientIp ?? ex?.client.ip,
    userAgent: typeof ua === 'string' ? ua.slice(0, MAX_UA) : undefined,
    message: e.message,
  };
}
