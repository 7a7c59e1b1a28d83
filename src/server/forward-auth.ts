// Forward-auth mode: GET /.gatehouse/auth asked by an ingress (nginx auth_request, Traefik
// forwardAuth, Envoy ext_authz HTTP service) about a request it is holding. The original method,
// host and URI come from the header set `forward_auth.headers` names (X-Original-URL/-Method, or
// X-Forwarded-Method/Proto/Host/Uri) — only that set, and only from a peer in
// server.trusted_proxies, since they decide who gets in. The usual walk then runs
// on that request: route, identity (cookie or bearer token the ingress passed along), policy,
// identity headers. 200 carries the identity headers for the ingress to copy upstream
// (auth_request_set / authResponseHeaders); 401 names the sign-in URL in X-Gatehouse-Signin;
// 403 is a denial.
//
// The described request is parsed structurally and then by exactly the code that parses
// Gatehouse's own requests (server/target.ts): if Gatehouse judged a different host or path than
// the ingress serves, anyone could pick what is judged (as when the path was once cut out of
// X-Original-URL at the first textual copy of the host).
import { GatehouseError } from '../errors.ts';
import type { Exchange } from '../http/exchange.ts';
import { INTERNAL_PREFIX } from '../http/endpoints.ts';
import { writeHead } from '../http/respond.ts';
import { applyHost, applyTarget } from './target.ts';

export type ForwardAuthHeaders = 'original_url' | 'forwarded';

// RFC 9110 §9.1 says a token; every method an ingress relays is upper-case letters, and anything
// else (a lower-case "get", a list) would be a second spelling for policy to get wrong.
const METHOD = /^[A-Z]{1,32}$/;
// RFC 3986 §3: "scheme://authority", scheme case-insensitive (§3.1); only http(s) is ours. No
// WHATWG leniency: "http:/host", "http:\\host" and "//host" are not absolute URLs here.
const ABSOLUTE = /^(https?):\/\//i;
// The request-target alphabet (RFC 9112 §3.2): no whitespace, controls or raw non-ASCII. Node's
// own parser refuses those in a request line, so a described request may not carry them either.
const TARGET_CHARS = /^[\x21-\x7e]*$/;
// The ingress's own address may say ?redirect (Traefik); the described request's query may not,
// so only a query that is exactly that one parameter counts (Envoy's path_prefix appends the
// client's path and query to the auth request's).
const REDIRECT_QUERY = /^\?redirect(?:=[^&]*)?$/;

interface Described {
  readonly scheme: 'http' | 'https';
  readonly authority: string;
  readonly target: string;
  readonly method: string;
}

/**
 * Read the original request from the one header set the config names (never a fallback: a client
 * could add the other set), check it is http(s) on a host Gatehouse serves, and judge it from here
 * on: ex.host, ex.authority, ex.path, ex.query, ex.policyPath, ex.encodedEscape and ex.method are
 * the described request's.
 */
export function retargetForwardAuth(
  ex: Exchange,
  source: ForwardAuthHeaders | undefined,
  maxTargetBytes: number,
  isServedHost: (host: string) => boolean,
): void {
  if (!source) throw new GatehouseError('GH_NOT_FOUND', 'Forward-auth is not enabled (forward_auth in the config).');
  if (!ex.client.trusted) {
    throw new GatehouseError('GH_FORBIDDEN', 'Forward-auth answers only the ingress: add its address to server.trusted_proxies.');
  }
  ex.forwardAuthRedirect = REDIRECT_QUERY.test(ex.query);
  const d = source === 'original_url' ? readOriginalUrl(ex) : readForwarded(ex);
  if (!METHOD.test(d.method))
    throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth: the original method must be an upper-case token such as GET.');
  if (d.target.includes('#'))
    throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth: the original request cannot carry a fragment ("#").');
  if (!TARGET_CHARS.test(d.target))
    throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth: the original request target has characters a request line cannot carry.');
  if (d.authority === '') throw new GatehouseError('GH_BAD_HOST', 'Forward-auth: the original request names no host.');

  applyHost(ex, d.authority);
  // parseHost folds case but reads "0080" as port 80: the authority must already be canonical
  // apart from case. Case is folded, not refused — nginx's $host is lower-cased, but $http_host,
  // Traefik and Envoy pass the Host as the client wrote it, and "Example.com" is a legitimate
  // spelling (RFC 3986 §3.2.2). Folding is safe because the path is never looked for in the text.
  if (ex.authority !== d.authority.toLowerCase()) {
    throw new GatehouseError('GH_BAD_HOST', 'Forward-auth: the original host is not written canonically (port with leading zeros).');
  }
  // Only hosts Gatehouse serves: anything else would make the sign-in redirect an open redirect.
  if (!isServedHost(ex.host)) throw new GatehouseError('GH_BAD_REQUEST', `Forward-auth: ${ex.host} is not a host Gatehouse serves.`);
  applyTarget(ex, d.target, maxTargetBytes);
  ex.method = d.method;

  // The ingress routes /.gatehouse/ to Gatehouse itself (see config/examples/integrations). One that asks about
  // such a path is about to send it elsewhere — to an app that may read the rest as its own path
  // ("/.gatehouse/..;/admin", a second decoding). So it is refused, in every spelling a policy
  // path or a case-insensitive upstream could give it, rather than let through or judged.
  if (isInternal(ex.path) || isInternal(ex.policyPath.toLowerCase())) {
    ex.decision = 'deny';
    throw new GatehouseError(
      'GH_FORBIDDEN',
      "Forward-auth does not judge Gatehouse's own paths: route /.gatehouse/ from the ingress to Gatehouse without asking.",
    );
  }

  const defaultPort = d.scheme === 'https' ? ':443' : ':80';
  const origin = `${d.scheme}://${ex.authority.endsWith(defaultPort) ? ex.authority.slice(0, -defaultPort.length) : ex.authority}`;
  // Built only from the validated parts: respond.ts derives the sign-in URL (X-Gatehouse-Signin,
  // Location) and its return address from it.
  ex.forwardAuthUrl = `${origin}${ex.path}${ex.query}`;
}

/** nginx auth_request: X-Original-URL (absolute URL) and X-Original-Method. */
function readOriginalUrl(ex: Exchange): Described {
  const url = single(ex, 'x-original-url');
  const method = single(ex, 'x-original-method');
  if (url === undefined) throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth needs an absolute X-Original-URL from the ingress.');
  if (method === undefined) throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth needs X-Original-Method from the ingress.');
  const m = ABSOLUTE.exec(url);
  if (!m) throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth: X-Original-URL must be an absolute http or https URL.');
  // RFC 3986 §3.2: the authority runs from "//" to the first "/", "?" or "#"; what follows is the
  // path and query exactly as the client sent them (nginx's $request_uri).
  const rest = url.slice(m[0].length);
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  return { scheme: m[1]!.toLowerCase() as 'http' | 'https', authority: rest.slice(0, end), target: originForm(rest.slice(end)), method };
}

/** Traefik forwardAuth, Envoy (headers_to_add): X-Forwarded-Method/Proto/Host/Uri. */
function readForwarded(ex: Exchange): Described {
  const method = single(ex, 'x-forwarded-method');
  const proto = single(ex, 'x-forwarded-proto')?.toLowerCase();
  const authority = single(ex, 'x-forwarded-host');
  const uri = single(ex, 'x-forwarded-uri');
  if (method === undefined || proto === undefined || authority === undefined || uri === undefined) {
    throw new GatehouseError(
      'GH_BAD_REQUEST',
      'Forward-auth needs X-Forwarded-Method, X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri from the ingress.',
    );
  }
  if (proto !== 'http' && proto !== 'https')
    throw new GatehouseError('GH_BAD_REQUEST', 'Forward-auth: the original request must be http or https (one X-Forwarded-Proto value).');
  return { scheme: proto, authority, target: originForm(uri), method };
}

/** An empty path is "/" (RFC 3986 §6.2.3): "?q" → "/?q". Anything else is judged as written. */
function originForm(target: string): string {
  return target === '' || target.charCodeAt(0) === 63 /* ? */ ? `/${target}` : target;
}

/**
 * The one value of a describing header, or undefined when absent or empty. Several fields
 * (repeated header, which Node would join with ", ") are refused, never narrowed to the first:
 * which one the ingress meant is exactly what an attacker would like to choose.
 */
function single(ex: Exchange, name: string): string | undefined {
  const values = ex.req.headersDistinct[name];
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1)
    throw new GatehouseError('GH_BAD_REQUEST', `Forward-auth: ${name} was sent ${values.length} times; the ingress sends it once.`);
  return values[0] === '' ? undefined : values[0];
}

function isInternal(path: string): boolean {
  return path.startsWith(INTERNAL_PREFIX) || path === INTERNAL_PREFIX.slice(0, -1);
}

/** 200 with the identity headers (nothing else: the ingress copies what it is told to). */
export function sendForwardAuthAllow(ex: Exchange): void {
  writeHead(ex, 200, { 'cache-control': 'no-store', 'content-length': '0', ...ex.identityHeaders });
  ex.res?.end();
}
