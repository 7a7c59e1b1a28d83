// routes: each route's prefix, upstream, identity headers and access rules, checked and compiled;
// then the checks across routes (the same prefix twice, identity providers named or believed).
import { normalizePath } from '../uri/normalize.ts';
import { compileAllow, compileDeny, compileRule } from './compile-access.ts';
import { Findings, type Checked } from './findings.ts';
import type { RawConfig, RawRoute } from './schema.ts';
import { DEFAULT_IDENTITY_HEADERS, type IdentityHeaderNames, type RouteConfig, type UpstreamConfig } from './types.ts';
import { parseDuration } from './units.ts';

const NOT_NORMALISED = 'must be a normalised path, as requests arrive (no dot segments, repeated slashes, needless or invalid escapes)';

/** Every route of `c`, in order; `c` for the settings routes inherit (identity_headers). */
export function compileRoutes(c: RawConfig): Checked<RouteConfig[]> {
  const f = new Findings();
  const seen = new Map<string, number>();
  const routes = c.routes.map((r, i) => {
    const at = `routes[${i}]`;
    const first = seen.get(r.name);
    if (first !== undefined) f.problem(`${at}.name`, `duplicate route name "${r.name}" (also routes[${first}])`);
    else seen.set(r.name, i);
    return f.take(compileRoute(c, r, at));
  });
  return f.result(routes);
}

function compileRoute(c: RawConfig, r: RawRoute, at: string): Checked<RouteConfig> {
  const f = new Findings();
  const path = compileRoutePath(r.path);
  if (path === undefined) f.problem(`${at}.path`, 'must be a plain path prefix, normalised (no dot segments, repeated slashes, needless or invalid escapes)');
  if (parseDuration(r.timeout) === 0) f.problem(`${at}.timeout`, 'must be longer than 0');

  const upstream = new URL(r.upstream);
  if (upstream.search || upstream.hash || upstream.username || upstream.password) {
    f.problem(`${at}.upstream`, 'must not contain a query, fragment or credentials');
  }
  if (r.unsafe_allow_encoded_escapes) f.warn(`${at}.unsafe_allow_encoded_escapes (${r.name}): paths like "%252F" reach the upstream; one that decodes twice sees another path than the policy judged`);
  if (!r.allow && !r.rules?.some((x) => x.public || x.allow)) f.warn(`${at} (${r.name}) has no "allow": nobody can use it (default deny)`);
  else if (!r.allow) f.warn(`${at} (${r.name}) has no "allow": requests no rule matches are denied (default deny)`);
  f.take(checkRoutePatterns(r, at));

  return f.result({
    name: r.name,
    host: r.host?.toLowerCase(),
    path: path ?? '/',
    upstream: compileUpstream(r.upstream),
    timeoutMs: parseDuration(r.timeout),
    preserveHost: r.preserve_host,
    allow: r.allow ? compileAllow(r.allow) : undefined,
    idps: r.idps,
    deny: r.deny ? compileDeny(r.deny) : undefined,
    rules: (r.rules ?? []).map(compileRule),
    roles: r.roles,
    sendGroups: r.send_groups,
    maxHeaderBytes: r.max_header_bytes,
    identityHeaders: headerNames(c.identity_headers, r.identity_headers),
    passAccessToken: r.pass_access_token,
    apiPaths: r.api_paths ?? [],
    allowedOrigins: (r.allowed_origins ?? []).map((o) => o.toLowerCase().replace(/\/+$/, '')),
    caseInsensitivePaths: r.case_insensitive_paths,
    allowEncodedEscapes: r.unsafe_allow_encoded_escapes,
    assertion: r.assertion,
    maxConnections: r.max_connections,
    maxQueue: r.max_queue,
  });
}

/** rules, api_paths and allowed_origins: each entry must be something a request can match. */
function checkRoutePatterns(r: RawRoute, at: string): Checked<void> {
  const f = new Findings();
  r.rules?.forEach((rule, j) => {
    if (rule.public && (rule.allow || rule.deny)) f.problem(`${at}.rules[${j}]`, 'public: true cannot be combined with allow or deny');
    // A rule on a path no request can have ("/a//b", "/a/../b") would silently never apply.
    if (compileRoutePath(rule.path) === undefined) f.problem(`${at}.rules[${j}].path`, NOT_NORMALISED);
  });
  r.api_paths?.forEach((p, j) => {
    if (compileRoutePath(p) === undefined) f.problem(`${at}.api_paths[${j}]`, NOT_NORMALISED);
  });
  r.allowed_origins?.forEach((o, j) => {
    if (!URL.canParse(o) || new URL(o).origin.toLowerCase() !== o.toLowerCase().replace(/\/+$/, '')) {
      f.problem(`${at}.allowed_origins[${j}]`, 'must be an origin like "https://notebooks.corp.example"');
    }
  });
  return f.result(undefined);
}

/**
 * Routes name identity providers that exist; with several providers, a route that does not say
 * which it believes is warned about; no two routes have the same host and prefix.
 */
export function checkRoutesAcross(c: RawConfig, routes: readonly RouteConfig[], idpIds: ReadonlySet<string>): Checked<void> {
  const f = new Findings();
  c.routes.forEach((r, i) => r.idps?.forEach((id, j) => {
    if (!idpIds.has(id)) f.problem(`routes[${i}].idps[${j}]`, `no identity provider with id "${id}"`);
  }));
  // Every IdP can assert any user, e-mail and group name: a partner IdP can say "alice, ml-admins"
  // as well as the corporate one. Which IdPs a route believes is the route's decision (idps:); the
  // upstream is told which one vouched (X-Forwarded-Idp, and the signed assertion's idp claim).
  if (idpIds.size > 1) {
    c.routes.forEach((r, i) => {
      if (r.idps || (r.allow && 'public' in r.allow && r.allow.public === true && !r.rules?.length)) return;
      f.warn(`routes[${i}] (${r.name}) believes every identity provider (${[...idpIds].join(', ')}), and each can assert any user or group name: set routes[${i}].idps to the ones it trusts`);
    });
  }
  const dup = findDuplicateMatch(routes);
  if (dup) f.problem(`routes[${dup[1]}]`, `same host and path as routes[${dup[0]}]; it could never match`);
  return f.result(undefined);
}

function compileUpstream(url: string): UpstreamConfig {
  const u = new URL(url);
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, ''), host: u.host };
}

/** The route prefix as requests will see it, or undefined when the written path is not canonical. */
function compileRoutePath(path: string): string | undefined {
  const normalised = normalizePath(path);
  if (!normalised.ok) return undefined;
  const p = normalised.path.length > 1 && normalised.path.endsWith('/') ? normalised.path.slice(0, -1) : normalised.path;
  const written = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  // "/a/../b" or "/%61pi" would never be seen by routing in that form: make the author write "/b".
  return p === written ? p : undefined;
}

function headerNames(global: RawConfig['identity_headers'], route: RawRoute['identity_headers']): IdentityHeaderNames {
  const pick = (key: keyof RawConfig['identity_headers'], fallback: string) => route?.[key] ?? global[key] ?? fallback;
  const d = DEFAULT_IDENTITY_HEADERS;
  return {
    user: pick('user', d.user),
    email: pick('email', d.email),
    name: pick('name', d.name),
    groups: pick('groups', d.groups),
    preferredUsername: pick('preferred_username', d.preferredUsername),
    roles: pick('roles', d.roles),
    idp: pick('idp', d.idp),
    assertion: pick('assertion', d.assertion),
    accessToken: pick('access_token', d.accessToken),
  };
}

function findDuplicateMatch(routes: readonly RouteConfig[]): [number, number] | undefined {
  const keys = new Map<string, number>();
  for (const [i, r] of routes.entries()) {
    const key = `${r.host ?? ''} ${r.path}`;
    const j = keys.get(key);
    if (j !== undefined) return [j, i];
    keys.set(key, i);
  }
  return undefined;
}
