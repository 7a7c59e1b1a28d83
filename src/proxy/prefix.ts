// strip_prefix: a tool that expects to live at "/" served under a route's sub-path. The
// upstream gets the path without the route's prefix and the prefix itself as X-Forwarded-Prefix
// (what Werkzeug's ProxyFix, Spring and ASP.NET read); what it sends back that names its own
// paths — a Location, a cookie's Path — is put back under the prefix, as nginx's proxy_redirect
// and proxy_cookie_path do. Links inside bodies are the app's business (X-Forwarded-Prefix).
import type { RouteConfig } from '../config/types.ts';
import type { OutgoingHeaders } from './headers.ts';

/** How one request's path maps onto the upstream under strip_prefix. */
export interface PrefixMapping {
  /** The route prefix as the client spelled it ("/code"): X-Forwarded-Prefix, and what responses get back. */
  readonly prefix: string;
  /** The rest of the path ("/" at least). */
  readonly path: string;
}

/**
 * The mapping for `path` on a strip_prefix route; undefined when the route does not strip, or when
 * `path` does not begin with the prefix segment for segment (it matched through another reading,
 * e.g. ";params"): stripping a spelling the route did not name could hand the upstream another path.
 */
export function mapPrefix(route: RouteConfig, path: string): PrefixMapping | undefined {
  if (!route.stripPrefix) return undefined;
  const p = route.path;
  const head = path.slice(0, p.length);
  const same = route.caseInsensitivePaths ? head.toLowerCase() === p.toLowerCase() : head === p;
  const next = path.charAt(p.length);
  if (!same || (next !== '' && next !== '/')) return undefined;
  return { prefix: head, path: path.slice(p.length) || '/' };
}

/**
 * A path-absolute value ("/x") of the upstream's, under the prefix; other values as they are.
 * One already under the prefix is left alone: an app told its public path (by X-Forwarded-Prefix
 * or its own setting, e.g. Prometheus's --web.external-url) builds it in itself.
 */
function underPrefix(value: string, prefix: string): string {
  if (!value.startsWith('/') || value.startsWith('//')) return value;
  if (value === prefix || value.startsWith(`${prefix}/`)) return value;
  return value === '/' ? `${prefix}/` : `${prefix}${value}`;
}

/**
 * Location: a path-absolute redirect ("/login") goes under the prefix; an absolute URL naming the
 * upstream itself (`upstreamHost`) or the host the client addressed (`servedAuthority`) becomes
 * the client's origin with the prefix. Relative and foreign URLs pass unchanged.
 */
export function rewriteLocation(location: string, prefix: string, upstreamHost: string, servedAuthority: string, proto: string): string {
  if (location.startsWith('/') && !location.startsWith('//')) return underPrefix(location, prefix);
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return location;
  }
  if (!/^https?:$/.test(url.protocol)) return location;
  const host = url.host.toLowerCase();
  if (host !== upstreamHost.toLowerCase() && (servedAuthority === '' || host !== servedAuthority.toLowerCase())) return location;
  const origin = servedAuthority === '' ? url.origin : `${proto}://${servedAuthority}`;
  return `${origin}${underPrefix(url.pathname, prefix)}${url.search}${url.hash}`;
}

/** Set-Cookie: a Path attribute naming an upstream path goes under the prefix (no Path: the
 * browser's default is the request's own directory, already under it). */
export function rewriteCookiePath(setCookie: string, prefix: string): string {
  return setCookie.replace(
    /(;\s*path\s*=\s*)([^;]*)/gi,
    (_m, attr: string, value: string) => `${attr}${underPrefix(value.trim(), prefix)}`,
  );
}

/**
 * Response headers for the client on a strip_prefix route (after clientResponseHeaders).
 * `own`: the Set-Cookie values Gatehouse added itself (Exchange.setCookies): not the upstream's,
 * left as they are (a session cookie cleared at Path=/ must stay at /).
 */
export function rewriteResponseHeaders(
  out: OutgoingHeaders,
  m: PrefixMapping,
  upstreamHost: string,
  servedAuthority: string,
  proto: string,
  own: readonly string[] = [],
): OutgoingHeaders {
  const location = out.location;
  if (typeof location === 'string') out.location = rewriteLocation(location, m.prefix, upstreamHost, servedAuthority, proto);
  const cookies = out['set-cookie'];
  if (cookies !== undefined) {
    const list = Array.isArray(cookies) ? cookies : [cookies];
    // clientResponseHeaders appends Gatehouse's own after the upstream's.
    const upstreamCount = list.length - own.length;
    out['set-cookie'] = list.map((c, i) => (i < upstreamCount ? rewriteCookiePath(c, m.prefix) : c));
  }
  return out;
}
