// routes: each route's prefix, upstream, identity headers and access rules, checked and compiled;
// then the checks across routes (the same prefix twice, identity providers named or believed).
import { normalizePath } from '../uri/normalize.ts';
import { compileAllow, compileDeny, compileRules } from './compile-access.ts';
import { Findings, type Checked } from './findings.ts';
import type { RawConfig, RawRoute } from './schema.ts';
import { DEFAULT_IDENTITY_HEADERS, type IdentityHeaderNames, type RouteConfig, type UpstreamConfig } from './types.ts';
import { parseDuration } from './units.ts';

const NOT_NORMALISED = 'must be a normalised path, as requests arrive (no dot segments, repeated slashes, needless or invalid escapes)';

/** Every route of `raw`, in order; `raw` also for what routes inherit (identity_headers, username). */
export function compileRoutes(raw: RawConfig): Checked<RouteConfig[]> {
  const f = new Findings();
  const seen = new Map<string, number>();
  const routes = raw.routes.map((route, i) => {
    const at = `routes[${i}]`;
    const first = seen.get(route.name);
    if (first !== undefined) f.problem(`${at}.name`, `duplicate route name "${route.name}" (also routes[${first}])`);
    else seen.set(route.name, i);
    return f.take(compileRoute(raw, route, at));
  });
  return f.result(routes);
}

function compileRoute(raw: RawConfig, route: RawRoute, at: string): Checked<RouteConfig> {
  const f = new Findings();
  const path = compileRoutePath(route.path);
  if (path === undefined)
    f.problem(`${at}.path`, 'must be a plain path prefix, normalised (no dot segments, repeated slashes, needless or invalid escapes)');
  if (parseDuration(route.timeout) === 0) f.problem(`${at}.timeout`, 'must be longer than 0');

  const upstream = new URL(route.upstream);
  if (upstream.search || upstream.hash || upstream.username || upstream.password) {
    f.problem(`${at}.upstream`, 'must not contain a query, fragment or credentials');
  }
  if (route.strip_prefix && route.path === '/')
    f.warn(`${at}.strip_prefix (${route.name}): the route is at "/", there is no prefix to strip`);
  if (route.unsafe_allow_encoded_escapes)
    f.warn(
      `${at}.unsafe_allow_encoded_escapes (${route.name}): paths like "%252F" reach the upstream; one that decodes twice sees another path than the policy judged`,
    );
  if (!route.allow && !route.rules?.some((x) => x.public || x.allow))
    f.warn(`${at} (${route.name}) has no "allow": nobody can use it (default deny)`);
  else if (!route.allow) f.warn(`${at} (${route.name}) has no "allow": requests no rule matches are denied (default deny)`);
  f.take(checkRoutePatterns(route, at));

  return f.result({
    name: route.name,
    host: route.host?.toLowerCase(),
    path: path ?? '/',
    upstream: compileUpstream(route.upstream),
    timeoutMs: parseDuration(route.timeout),
    preserveHost: route.preserve_host,
    stripPrefix: route.strip_prefix && path !== '/' && path !== undefined,
    allow: route.allow ? compileAllow(route.allow) : undefined,
    idps: route.idps,
    deny: route.deny ? compileDeny(route.deny) : undefined,
    rules: compileRules(route.name, route.rules ?? []),
    roles: route.roles,
    sendGroups: route.send_groups,
    maxHeaderBytes: route.max_header_bytes,
    identityHeaders: headerNames(raw.identity_headers, route.identity_headers),
    username: { from: raw.username.from, maxLength: raw.username.max_length },
    passAccessToken: route.pass_access_token,
    bearerHeader: route.bearer_header,
    apiPaths: route.api_paths ?? [],
    allowedOrigins: (route.allowed_origins ?? []).map((o) => o.toLowerCase().replace(/\/+$/, '')),
    caseInsensitivePaths: route.case_insensitive_paths,
    allowEncodedEscapes: route.unsafe_allow_encoded_escapes,
    assertion: route.assertion,
    maxConnections: route.max_connections,
    maxQueue: route.max_queue,
  });
}

/** rules, api_paths and allowed_origins: each entry must be something a request can match. */
function checkRoutePatterns(route: RawRoute, at: string): Checked<void> {
  const f = new Findings();
  route.rules?.forEach((rule, j) => {
    if (rule.public && (rule.allow || rule.deny)) f.problem(`${at}.rules[${j}]`, 'public: true cannot be combined with allow or deny');
    // A rule on a path no request can have ("/a//b", "/a/../b") would silently never apply.
    if (compileRoutePath(rule.path) === undefined) f.problem(`${at}.rules[${j}].path`, NOT_NORMALISED);
  });
  route.api_paths?.forEach((p, j) => {
    if (compileRoutePath(p) === undefined) f.problem(`${at}.api_paths[${j}]`, NOT_NORMALISED);
  });
  route.allowed_origins?.forEach((o, j) => {
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
export function checkRoutesAcross(raw: RawConfig, routes: readonly RouteConfig[], idpIds: ReadonlySet<string>): Checked<void> {
  const f = new Findings();
  raw.routes.forEach((route, i) =>
    route.idps?.forEach((id, j) => {
      if (!idpIds.has(id)) f.problem(`routes[${i}].idps[${j}]`, `no identity provider with id "${id}"`);
    }),
  );
  // Every IdP can assert any user, e-mail and group name: a partner IdP can say "alice, ml-admins"
  // as well as the corporate one. Which IdPs a route believes is the route's decision (idps:); the
  // upstream is told which one vouched (X-Forwarded-Idp, and the signed assertion's idp claim).
  if (idpIds.size > 1) {
    raw.routes.forEach((route, i) => {
      if (route.idps || (route.allow && 'public' in route.allow && route.allow.public === true && !route.rules?.length)) return;
      f.warn(
        `routes[${i}] (${route.name}) believes every identity provider (${[...idpIds].join(', ')}), and each can assert any user or group name: set routes[${i}].idps to the ones it trusts`,
      );
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
    username: pick('username', d.username),
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
