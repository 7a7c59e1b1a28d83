// Header rewriting between client and upstream: hop-by-hop headers (RFC 9110 §7.6.1) and any
// header the sender lists in Connection are dropped both ways; X-Forwarded-* and X-Request-Id
// are set by Gatehouse, never passed through from an untrusted client.
import type { IncomingHttpHeaders } from 'node:http';
import type { Exchange } from '../server/exchange.ts';
import { REQUEST_ID_HEADER } from '../server/endpoints.ts';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'http2-settings',
]);

// Set by Gatehouse itself on the way upstream; client copies are dropped (trusted ones are merged).
const SET_BY_GATEHOUSE = new Set(['host', 'expect', 'forwarded', 'x-real-ip', 'x-scheme', 'x-original-url', 'x-rewrite-url', REQUEST_ID_HEADER]);

// Whole header families only Gatehouse may send: identity (X-Forwarded-User/-Email/-Groups/-Roles
// and the rest of X-Forwarded-*) and its own X-Gatehouse-*. Compared after mapping "_" to "-",
// because WSGI/CGI upstreams read X_Forwarded_User as X-Forwarded-User.
const RESERVED_PREFIXES = ['x-forwarded-', 'x-gatehouse-'];

/** `extra`: every identity header name configured anywhere (lower-case, e.g. "remote-user"). */
function reserved(name: string, extra: ReadonlySet<string>): boolean {
  const n = name.includes('_') ? name.replace(/_/g, '-') : name;
  if (n !== name && (HOP_BY_HOP.has(n) || SET_BY_GATEHOUSE.has(n))) return true;
  return extra.has(n) || RESERVED_PREFIXES.some((p) => n.startsWith(p));
}

/** What a request's upstream headers depend on besides the exchange itself. */
export interface UpstreamHeaderContext {
  readonly upstreamHost: string;
  readonly preserveHost: boolean;
  /** Keep Connection/Upgrade (WebSocket upgrades). */
  readonly keepUpgrade: boolean;
  readonly cookieName: string;
  readonly reservedNames: ReadonlySet<string>;
}

export type OutgoingHeaders = Record<string, string | string[]>;

/** Names listed in a Connection header, lower-cased ("close"/"keep-alive" included, harmlessly). */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const s = Array.isArray(value) ? value.join(',') : value;
  if (!s.includes(',') && (s === 'keep-alive' || s === 'close' || s === 'Keep-Alive' || s === 'upgrade' || s === 'Upgrade')) return undefined;
  return new Set(s.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/**
 * Request headers for the upstream: the client's, minus hop-by-hop, Connection-listed and every
 * header only Gatehouse may set, then Gatehouse's own (X-Forwarded-*, X-Request-Id, identity).
 * Gatehouse's headers are added last, so nothing the client lists in Connection can remove them.
 */
export function upstreamRequestHeaders(ex: Exchange, ctx: UpstreamHeaderContext): OutgoingHeaders {
  const { cookieName } = ctx;
  const src = ex.req.headers;
  const listed = connectionListed(src.connection);
  const out: OutgoingHeaders = {};
  for (const name in src) {
    const value = src[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || SET_BY_GATEHOUSE.has(name) || reserved(name, ctx.reservedNames)) continue;
    if (listed?.has(name)) continue;
    out[name] = value;
  }
  // The session cookie is Gatehouse's alone; the upstream's own cookies pass untouched.
  const cookie = src.cookie;
  if (cookie !== undefined && cookie.includes(`${cookieName}=`)) {
    const kept = stripCookie(cookie, cookieName);
    if (kept === undefined) delete out.cookie;
    else out.cookie = kept;
  }
  const c = ex.client;
  const peer = (ex.socket as { remoteAddress?: string }).remoteAddress ?? '';
  const inboundXff = src['x-forwarded-for'];
  out['x-forwarded-for'] = c.trusted && inboundXff ? `${Array.isArray(inboundXff) ? inboundXff.join(', ') : inboundXff}, ${stripMapped(peer)}` : c.ip;
  out['x-forwarded-proto'] = c.proto;
  if (c.host) out['x-forwarded-host'] = c.host;
  out[REQUEST_ID_HEADER] = ex.id;
  if (ex.identityHeaders) Object.assign(out, ex.identityHeaders);
  out.host = ctx.preserveHost && src.host ? src.host : ctx.upstreamHost;
  if (ctx.keepUpgrade) {
    out.connection = 'upgrade';
    if (src.upgrade) out.upgrade = src.upgrade;
  }
  return out;
}

/**
 * Response headers for the client: upstream's minus hop-by-hop, plus our request id and cookies.
 * An upstream may not set Gatehouse's own cookies (that would plant or end sessions).
 */
export function clientResponseHeaders(headers: IncomingHttpHeaders, requestId: string, setCookies: readonly string[] | undefined, cookieName: string): OutgoingHeaders {
  const listed = connectionListed(headers.connection);
  const out: OutgoingHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = value;
  }
  const upstreamCookies = out['set-cookie'];
  if (upstreamCookies !== undefined) {
    const kept = (Array.isArray(upstreamCookies) ? upstreamCookies : [upstreamCookies]).filter((c) => !ownsCookie(c, cookieName));
    if (kept.length > 0) out['set-cookie'] = kept;
    else delete out['set-cookie'];
  }
  out[REQUEST_ID_HEADER] = requestId;
  if (setCookies) {
    const upstream = out['set-cookie'];
    out['set-cookie'] = [...(upstream === undefined ? [] : Array.isArray(upstream) ? upstream : [upstream]), ...setCookies];
  }
  return out;
}

/** True when a Set-Cookie value names our session cookie or one derived from it (login state). */
function ownsCookie(setCookie: string, cookieName: string): boolean {
  const eq = setCookie.indexOf('=');
  const name = (eq === -1 ? setCookie : setCookie.slice(0, eq)).trim();
  return name === cookieName || name.startsWith(`${cookieName}-`);
}

/** `header` without the pairs named `name`; undefined when nothing is left. */
export function stripCookie(header: string, name: string): string | undefined {
  const prefix = `${name}=`;
  const kept = header.split(';').map((c) => c.trim()).filter((c) => c !== '' && !c.startsWith(prefix));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

function stripMapped(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
