// Forward-auth mode: GET /.gatehouse/auth asked by an ingress (nginx auth_request, Traefik
// forwardAuth, Envoy ext_authz HTTP service) about a request it is holding. The original method,
// host and URI come from the header set `forward_auth.headers` names (X-Original-URL/-Method, or
// X-Forwarded-Method/Proto/Host/Uri) — only that set, and only from a peer in
// server.trusted_proxies, since they decide who gets in. The usual walk then runs
// on that request: route, identity (cookie or bearer token the ingress passed along), policy,
// identity headers. 200 carries the identity headers for the ingress to copy upstream
// (auth_request_set / authResponseHeaders); 401 names the sign-in URL in X-Gatehouse-Signin;
// 403 is a denial.
import { GatehouseError } from '../errors.ts';
import { hostOf } from '../route/table.ts';
import { normalizePath, splitTarget } from '../route/normalize.ts';
import type { Exchange } from './exchange.ts';
import { REQUEST_ID_HEADER } from './endpoints.ts';

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();

/**
 * Read the original request from the one header set the config names (never a fallback: a client
 * could add the other set), check it is http(s) on a host Gatehouse serves, normalise its path.
 */
export function retargetForwardAuth(ex: Exchange, source: 'original_url' | 'forwarded' | undefined, isServedHost: (host: string) => boolean): void {
  if (!source) throw new GatehouseError('GH_NOT_FOUND', 'Forward-auth is not enabled (forward_auth in the config).');
  if (!ex.client.trusted) {
    throw new GatehouseError('GH_FORBIDDEN', 'Forward-auth answers only the ingress: add its address to server.trusted_proxies.');
  }
  const h = ex.req.headers;
  ex.forwardAuthRedirect = new URLSearchParams(ex.query.slice(1)).has('redirect');
  let origin: URL;
  let target: string;
  let method: string | undefined;
  if (source === 'original_url') {
    const original = first(h['x-original-url']);
    if (!original || !URL.canParse(original)) throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth needs an absolute X-Original-URL from the ingress.');
    const u = new URL(original);
    origin = new URL(u.origin === 'null' ? 'invalid:' : u.origin);
    // The raw path as sent (URL parsing would resolve dot segments before our checks).
    target = original.slice(original.indexOf(u.host) + u.host.length) || '/';
    method = first(h['x-original-method']);
  } else {
    const proto = first(h['x-forwarded-proto']) ?? 'http';
    const host = first(h['x-forwarded-host']);
    const uri = first(h['x-forwarded-uri']);
    if (!host || uri === undefined || !URL.canParse(`${proto}://${host}`)) throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth needs X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri from the ingress.');
    origin = new URL(`${proto}://${host}`);
    target = uri.startsWith('/') ? uri : `/${uri}`;
    method = first(h['x-forwarded-method']);
  }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:') throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth: the original request must be http or https.');
  const host = hostOf(origin.host);
  // Only hosts Gatehouse serves: anything else would make the sign-in redirect an open redirect.
  if (!isServedHost(host)) throw new GatehouseError('GH_BAD_REQUEST', `Forward-auth: ${host} is not a host Gatehouse serves.`);
  const { path, query } = splitTarget(target);
  const normalised = normalizePath(path);
  if (!normalised.ok) throw new GatehouseError('GH_BAD_PATH', `The original request path was refused: ${normalised.reason}.`);
  ex.host = host;
  ex.path = normalised.path;
  ex.query = query;
  ex.method = (method ?? 'GET').toUpperCase();
  ex.forwardAuthUrl = `${origin.origin}${ex.path}${ex.query}`;
}

/** 200 with the identity headers (nothing else: the ingress copies what it is told to). */
export function sendForwardAuthAllow(ex: Exchange): void {
  const res = ex.res!;
  ex.status = 200;
  const headers: Record<string, string | string[]> = { 'cache-control': 'no-store', 'content-length': '0', [REQUEST_ID_HEADER]: ex.id };
  if (ex.identityHeaders) Object.assign(headers, ex.identityHeaders);
  if (ex.setCookies) headers['set-cookie'] = ex.setCookies;
  res.writeHead(200, headers);
  res.end();
}
