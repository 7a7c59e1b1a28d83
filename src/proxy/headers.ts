// Header rewriting between client and upstream: hop-by-hop headers (RFC 9110 §7.6.1) and any
// header the sender lists in Connection are dropped both ways; X-Forwarded-* and X-Request-Id
// are set by Gatehouse, never passed through from an untrusted client.
import type { IncomingHttpHeaders } from 'node:http';
import type { Exchange } from '../http/exchange.ts';
import type { ClientInfo } from '../http/forwarded.ts';
import { REQUEST_ID_HEADER } from '../http/endpoints.ts';
import { strictTransportSecurity } from '../http/respond.ts';
import { parseCookieHeader } from '../http/cookies.ts';
import { baseCookieName, gatehouseCookieNames } from '../session/cookie.ts';

// Proxy-Authorization is also where a client may put Gatehouse's own bearer credential
// (auth/bearer/credential.ts): dropping it here is what keeps that token from the upstream.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'http2-settings',
]);

// Set by Gatehouse itself on the way upstream; client copies are dropped (trusted ones are merged).
const SET_BY_GATEHOUSE = new Set([
  'host',
  'expect',
  'forwarded',
  'x-real-ip',
  'x-scheme',
  'x-original-url',
  'x-rewrite-url',
  REQUEST_ID_HEADER,
]);

// Method overrides: Rails/Rack, Express method-override, ASP.NET, OData and Play run a POST as
// the DELETE or PUT these name, so a rule limiting DELETE to admins would judge a POST while the
// upstream deletes. Always dropped (no key turns it back on): a client that tunnels methods must
// send the real one. Overrides in the query (`?_method=`) or body are upstream-specific and not
// inspected: a route whose upstream honours them should not rely on method rules.
const METHOD_OVERRIDES = new Set(['x-http-method-override', 'x-method-override', 'x-http-method']);

// Whole header families only Gatehouse may send: identity (X-Forwarded-User/-Email/-Groups/-Roles
// and the rest of X-Forwarded-*) and its own X-Gatehouse-*. Compared after mapping "_" to "-",
// because WSGI/CGI upstreams read X_Forwarded_User as X-Forwarded-User.
const RESERVED_PREFIXES = ['x-forwarded-', 'x-gatehouse-'];

/** `extra`: every identity header name configured anywhere (lower-case, e.g. "remote-user"). */
function reserved(name: string, extra: ReadonlySet<string>): boolean {
  const n = name.includes('_') ? name.replace(/_/g, '-') : name;
  if (METHOD_OVERRIDES.has(n)) return true;
  if (n !== name && (HOP_BY_HOP.has(n) || SET_BY_GATEHOUSE.has(n))) return true;
  if (extra.has(n)) return true;
  for (const p of RESERVED_PREFIXES) if (n.startsWith(p)) return true;
  return false;
}

// Whether a request header name is dropped, remembered per set of identity header names (one per
// runtime): the names clients send are few, and one lookup replaces the half-dozen tests below.
// Bounded, so a client inventing names cannot grow it; beyond the bound names are tested each time.
const DROPPED_MAX = 1024;
const droppedNames = new WeakMap<ReadonlySet<string>, Map<string, boolean>>();

function droppedFor(extra: ReadonlySet<string>): Map<string, boolean> {
  let known = droppedNames.get(extra);
  if (known === undefined) droppedNames.set(extra, (known = new Map()));
  return known;
}

/** What a request's upstream headers depend on from the route and config. */
export interface UpstreamHeaderContext {
  readonly upstreamHost: string;
  readonly preserveHost: boolean;
  /** Keep Connection/Upgrade (WebSocket upgrades). */
  readonly keepUpgrade: boolean;
  readonly cookieName: string;
  /** Every identity header name configured (lower-case); never changed once used (verdicts are remembered per set). */
  readonly reservedNames: ReadonlySet<string>;
  /** strip_prefix: the route prefix the upstream does not see (X-Forwarded-Prefix). */
  readonly forwardedPrefix?: string | undefined;
}

export type OutgoingHeaders = Record<string, string | string[]>;

// The Connection values nearly every message carries, each listing one name: worked out once.
const COMMON_CONNECTION = new Map<string, ReadonlySet<string>>(
  ['keep-alive', 'Keep-Alive', 'close', 'Close', 'upgrade', 'Upgrade'].map((v) => [v, new Set([v.toLowerCase()])]),
);

/** Names listed in a Connection header, lower-cased ("close"/"keep-alive" included, harmlessly). */
function connectionListed(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (!value) return undefined;
  const common = typeof value === 'string' ? COMMON_CONNECTION.get(value) : undefined;
  if (common !== undefined) return common;
  const s = Array.isArray(value) ? value.join(',') : value;
  return new Set(
    s
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * What a request's upstream headers are built from besides the client's own headers: facts settled
 * before proxying. Plain values, so the rules can be tested without a socket.
 */
export interface UpstreamRequestFacts {
  /** Who the client is (http/forwarded.ts): address, scheme, and whether the peer is a trusted proxy. */
  readonly client: ClientInfo;
  /** Address of the TCP peer, appended to a trusted proxy's X-Forwarded-For ('' when unknown). */
  readonly peer: string;
  readonly requestId: string;
  /** How Gatehouse names this host (Runtime.servedAuthority); '' when it has no name for it. */
  readonly servedAuthority: string;
  /** Identity headers for a signed-in request (identity/headers.ts). */
  readonly identityHeaders: Readonly<Record<string, string>> | undefined;
}

/** The facts upstreamRequestHeaders needs, read off an exchange. */
export function upstreamRequestFacts(ex: Exchange): UpstreamRequestFacts {
  // Node keeps a socket's peer address once read (resolving the client read it), so a trusted
  // proxy that has hung up still gets its own hop.
  const peer = (ex.socket as { remoteAddress?: string }).remoteAddress ?? '';
  return {
    client: ex.client,
    peer,
    requestId: ex.id,
    servedAuthority: ex.servedAuthority,
    identityHeaders: ex.identityHeaders,
  };
}

/**
 * Request headers for the upstream: the client's, minus hop-by-hop, Connection-listed and every
 * header only Gatehouse may set, then Gatehouse's own (X-Forwarded-*, X-Request-Id, identity).
 * Gatehouse's headers are added last, so nothing the client lists in Connection can remove them.
 */
export function upstreamRequestHeaders(src: IncomingHttpHeaders, facts: UpstreamRequestFacts, ctx: UpstreamHeaderContext): OutgoingHeaders {
  const { cookieName } = ctx;
  const listed = connectionListed(src.connection);
  const out: OutgoingHeaders = {};
  const known = droppedFor(ctx.reservedNames);
  for (const name in src) {
    const value = src[name];
    if (value === undefined) continue;
    let drop = known.get(name);
    if (drop === undefined) {
      drop = HOP_BY_HOP.has(name) || SET_BY_GATEHOUSE.has(name) || reserved(name, ctx.reservedNames);
      if (known.size < DROPPED_MAX) known.set(name, drop);
    }
    if (drop) continue;
    if (listed?.has(name)) continue;
    if (name === 'cookie' && typeof value === 'string') {
      // Gatehouse's cookies (session, pending sign-in) are its alone; the upstream's pass untouched.
      // Never added then deleted: a delete turns `out` into a slow dictionary for every later header.
      const kept = stripCookie(value, cookieName);
      if (kept !== undefined) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  const c = facts.client;
  const inboundXff = src['x-forwarded-for'];
  out['x-forwarded-for'] =
    c.trusted && inboundXff ? `${Array.isArray(inboundXff) ? inboundXff.join(', ') : inboundXff}, ${stripMapped(facts.peer)}` : c.ip;
  out['x-forwarded-proto'] = c.proto;
  // A served name with public_url's port (Runtime.servedAuthority), never the raw header: an
  // upstream builds links from it (Kettle, "Practical HTTP Host header attacks").
  if (facts.servedAuthority) out['x-forwarded-host'] = facts.servedAuthority;
  if (ctx.forwardedPrefix) out['x-forwarded-prefix'] = ctx.forwardedPrefix;
  out[REQUEST_ID_HEADER] = facts.requestId;
  if (facts.identityHeaders) Object.assign(out, facts.identityHeaders);
  // preserve_host: the validated authority the client addressed, never the raw header.
  out.host = ctx.preserveHost && facts.servedAuthority ? facts.servedAuthority : ctx.upstreamHost;
  if (ctx.keepUpgrade) {
    out.connection = 'upgrade';
    if (src.upgrade) out.upgrade = src.upgrade;
  }
  return out;
}

/**
 * Response headers for the client, on every path a proxied response takes (HTTP, a WebSocket's
 * 101, a refused upgrade): upstream's minus hop-by-hop and Connection-listed ones, minus any
 * Set-Cookie touching Gatehouse's cookies, plus the request id and Gatehouse's own cookies; HSTS
 * when Gatehouse terminates TLS; `Cache-Control: private` on responses to a signed-in request
 * that say nothing about caching (a shared cache would hand them to the next user: web cache
 * deception, Omer Gil 2017). A 101 keeps Upgrade and `Connection: upgrade`.
 */
export function clientResponseHeaders(ex: Exchange, status: number, headers: IncomingHttpHeaders, cookieName: string): OutgoingHeaders {
  const upgrade = status === 101;
  const listed = connectionListed(headers.connection);
  const out: OutgoingHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (upgrade && name === 'upgrade') out[name] = value;
    else if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    else out[name] = value;
  }
  if (upgrade) out.connection = 'upgrade';
  const upstreamCookies = out['set-cookie'];
  if (upstreamCookies !== undefined) {
    const owns = ownsFor(cookieName);
    const kept = (Array.isArray(upstreamCookies) ? upstreamCookies : [upstreamCookies]).filter((c) => !namesOwnedCookie(c, owns));
    if (kept.length > 0) out['set-cookie'] = kept;
    else delete out['set-cookie'];
  }
  out[REQUEST_ID_HEADER] = ex.id;
  if (ex.setCookies) {
    const upstream = out['set-cookie'];
    out['set-cookie'] = [...(upstream === undefined ? [] : Array.isArray(upstream) ? upstream : [upstream]), ...ex.setCookies];
  }
  const hsts = strictTransportSecurity(ex);
  // The upstream's own policy (includeSubDomains, preload) wins over the default.
  if (hsts !== undefined && out['strict-transport-security'] === undefined) out['strict-transport-security'] = hsts;
  if (ex.identity !== undefined && !upgrade && out['cache-control'] === undefined && out.expires === undefined)
    out['cache-control'] = 'private';
  return out;
}

/**
 * True when an upstream Set-Cookie names a Gatehouse cookie anywhere as `<name>=`, not only as
 * the cookie it sets. A browser stores just the first pair (RFC 6265bis §5.6), but a nameless
 * cookie (`=gatehouse=x`, sent back bare as `gatehouse=x`), jars that split folded headers on
 * ",", and legacy parsers that read quoted values across ";" each find a later one; no upstream
 * has a reason to write our names. Each "=" is checked with the name before it, blanks between
 * trimmed as browsers trim names (`gatehouse =x` sets "gatehouse").
 */
function namesOwnedCookie(setCookie: string, owns: (name: string) => boolean): boolean {
  for (let eq = setCookie.indexOf('='); eq !== -1; eq = setCookie.indexOf('=', eq + 1)) {
    let end = eq;
    while (end > 0 && (setCookie.charCodeAt(end - 1) === 32 || setCookie.charCodeAt(end - 1) === 9)) end--;
    let start = end;
    while (start > 0 && isTokenChar(setCookie.charCodeAt(start - 1))) start--;
    if (start < end && owns(setCookie.slice(start, end))) return true;
  }
  return false;
}

/** RFC 9110 tchar: the bytes a cookie name is made of. */
function isTokenChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    (c < 127 && c > 32 && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)))
  );
}

/**
 * `header` without Gatehouse's cookies (see gatehouseCookieNames); undefined when nothing is
 * left. The same parser that reads them, so nothing Gatehouse could take for its own (a pair
 * hidden in a quoted value, a prefix spelled in another case) reaches the upstream.
 */
export function stripCookie(header: string, cookieName: string): string | undefined {
  if (!header.includes(baseCookieName(cookieName))) return header;
  const owns = ownsFor(cookieName);
  const kept: string[] = [];
  for (const p of parseCookieHeader(header)) if (p.name === undefined || !owns(p.name)) kept.push(p.text);
  return kept.length > 0 ? kept.join('; ') : undefined;
}

// One cookie name per runtime: its test is made once, not per request.
let owned: { readonly cookieName: string; readonly owns: (name: string) => boolean } | undefined;

function ownsFor(cookieName: string): (name: string) => boolean {
  if (owned?.cookieName !== cookieName) owned = { cookieName, owns: gatehouseCookieNames(cookieName) };
  return owned.owns;
}

function stripMapped(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
