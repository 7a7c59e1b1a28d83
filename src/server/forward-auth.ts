// Forward-auth mode: GET /.gatehouse/auth asked by an ingress (nginx auth_request, Traefik
// forwardAuth, Envoy ext_authz HTTP service) about a request it is holding. The original method,
// host and URI come from X-Forwarded-Method/Proto/Host/Uri or X-Original-URL/-Method — and only
// from a peer in server.trusted_proxies, since they decide who gets in. The usual walk then runs
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

export function retargetForwardAuth(ex: Exchange): void {
  if (!ex.client.trusted) {
    throw new GatehouseError('GH_FORBIDDEN', 'Forward-auth answers only the ingress: add its address to server.trusted_proxies.');
  }
  const h = ex.req.headers;
  ex.forwardAuthRedirect = new URLSearchParams(ex.query.slice(1)).has('redirect');
  let url: URL | undefined;
  const original = first(h['x-original-url']);
  if (original && URL.canParse(original)) {
    url = new URL(original);
  } else {
    const proto = first(h['x-forwarded-proto']) ?? ex.client.proto;
    const host = first(h['x-forwarded-host']) ?? h.host;
    const uri = first(h['x-forwarded-uri']) ?? (original?.startsWith('/') ? original : undefined);
    if (host && uri !== undefined && URL.canParse(`${proto}://${host}`)) {
      // The URI is taken as sent: normalisation below refuses anything ambiguous.
      url = new URL(`${proto}://${host}`);
      const { path, query } = splitTarget(uri.startsWith('/') ? uri : `/${uri}`);
      const normalised = normalizePath(path);
      if (!normalised.ok) throw new GatehouseError('GH_BAD_PATH', `The original request path was refused: ${normalised.reason}.`);
      ex.host = hostOf(url.host);
      ex.path = normalised.path;
      ex.query = query;
      ex.method = (first(h['x-forwarded-method']) ?? first(h['x-original-method']) ?? 'GET').toUpperCase();
      ex.forwardAuthUrl = `${url.origin}${ex.path}${ex.query}`;
      return;
    }
  }
  if (!url) throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth needs X-Original-URL, or X-Forwarded-Host and X-Forwarded-Uri, from the ingress.');
  const normalised = normalizePath(url.pathname);
  if (!normalised.ok) throw new GatehouseError('GH_BAD_PATH', `The original request path was refused: ${normalised.reason}.`);
  ex.host = hostOf(url.host);
  ex.path = normalised.path;
  ex.query = url.search;
  ex.method = (first(h['x-original-method']) ?? first(h['x-forwarded-method']) ?? 'GET').toUpperCase();
  ex.forwardAuthUrl = `${url.origin}${ex.path}${ex.query}`;
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
