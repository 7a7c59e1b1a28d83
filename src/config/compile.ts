// Validated raw config → deep-frozen Config with parsed durations, URLs, CIDRs and normalised route
// prefixes. Collects every problem and throws one ConfigError listing them all. No I/O here.
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { normalizePath } from '../uri/normalize.ts';
import { availableParallelism } from 'node:os';
import { compileAudit } from './compile-audit.ts';
import { compileProviders } from './compile-providers.ts';
import { compileSession } from './compile-session.ts';
import { ConfigSchema, type RawConfig, type RawRoute } from './schema.ts';
import { Secret } from './secret.ts';
import { DEFAULT_IDENTITY_HEADERS, type CompileResult, type Config, type IdentityHeaderNames, type RouteConfig, type UpstreamConfig } from './types.ts';
import { checkCidr, LOOPBACK_HOSTS, parseDuration, parseListen } from './units.ts';

export type * from './types.ts';
export { DEFAULT_IDENTITY_HEADERS } from './types.ts';
export { checkCidr, parseDuration } from './units.ts';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function zodProblems(error: z.ZodError): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const base = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: base ? `${base}.${key}` : key, message: 'unknown key' });
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      problems.push({ path: base, message: 'required' });
    } else {
      problems.push({ path: base, message: issue.message });
    }
  }
  return problems;
}

function compileUpstream(url: string): UpstreamConfig {
  const u = new URL(url);
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, ''), host: u.host };
}

const NOT_NORMALISED = 'must be a normalised path, as requests arrive (no dot segments, repeated slashes, needless or invalid escapes)';

/** The route prefix as requests will see it, or undefined when the written path is not canonical. */
function compileRoutePath(path: string): string | undefined {
  const normalised = normalizePath(path);
  if (!normalised.ok) return undefined;
  const p = normalised.path.length > 1 && normalised.path.endsWith('/') ? normalised.path.slice(0, -1) : normalised.path;
  const written = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  // "/a/../b" or "/%61pi" would never be seen by routing in that form: make the author write "/b".
  return p === written ? p : undefined;
}

/** Validate `raw` (the output of load.ts) and compile it; throws ConfigError with every problem. */
export function compileConfig(raw: unknown): CompileResult {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error));
  const c = parsed.data;
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];

  const publicUrl = new URL(c.server.public_url);
  const devMode = publicUrl.protocol === 'http:' && LOOPBACK_HOSTS.has(publicUrl.hostname);
  if (publicUrl.protocol === 'http:' && !devMode) {
    problems.push({ path: 'server.public_url', message: 'must be https:// (plain http is only allowed on a loopback address, for local development)' });
  }
  if (publicUrl.pathname !== '/' || publicUrl.search || publicUrl.hash) {
    problems.push({ path: 'server.public_url', message: 'must be a base URL without path, query or fragment' });
  }
  if (devMode) warnings.push(`dev mode: server.public_url ${publicUrl.origin} is plain http on loopback; do not use this config in production`);

  // 0 would switch Node's guard off: a slowloris client could then hold a socket for ever.
  for (const key of ['headers_timeout', 'body_timeout'] as const) {
    if (parseDuration(c.server[key]) === 0) problems.push({ path: `server.${key}`, message: 'must be longer than 0' });
  }

  c.server.trusted_proxies.forEach((cidr, i) => {
    const msg = checkCidr(cidr);
    if (msg) problems.push({ path: `server.trusted_proxies[${i}]`, message: msg });
  });

  const seen = new Map<string, number>();
  const routes: RouteConfig[] = [];
  c.routes.forEach((r, i) => {
    const at = `routes[${i}]`;
    const first = seen.get(r.name);
    if (first !== undefined) problems.push({ path: `${at}.name`, message: `duplicate route name "${r.name}" (also routes[${first}])` });
    else seen.set(r.name, i);

    const path = compileRoutePath(r.path);
    if (path === undefined) problems.push({ path: `${at}.path`, message: 'must be a plain path prefix, normalised (no dot segments, repeated slashes, needless or invalid escapes)' });
    if (parseDuration(r.timeout) === 0) problems.push({ path: `${at}.timeout`, message: 'must be longer than 0' });

    const upstream = new URL(r.upstream);
    if (upstream.search || upstream.hash || upstream.username || upstream.password) {
      problems.push({ path: `${at}.upstream`, message: 'must not contain a query, fragment or credentials' });
    }
    if (r.strip_prefix && r.path === '/') warnings.push(`${at}.strip_prefix (${r.name}): the route is at "/", there is no prefix to strip`);
    if (r.unsafe_allow_encoded_escapes) warnings.push(`${at}.unsafe_allow_encoded_escapes (${r.name}): paths like "%252F" reach the upstream; one that decodes twice sees another path than the policy judged`);
    if (!r.allow && !r.rules?.some((x) => x.public || x.allow)) warnings.push(`${at} (${r.name}) has no "allow": nobody can use it (default deny)`);
    else if (!r.allow) warnings.push(`${at} (${r.name}) has no "allow": requests no rule matches are denied (default deny)`);

    routes.push({
      name: r.name,
      host: r.host?.toLowerCase(),
      path: path ?? '/',
      upstream: compileUpstream(r.upstream),
      timeoutMs: parseDuration(r.timeout),
      preserveHost: r.preserve_host,
      stripPrefix: r.strip_prefix && path !== '/' && path !== undefined,
      allow: r.allow,
      idps: r.idps,
      deny: r.deny,
      rules: r.rules ?? [],
      roles: r.roles,
      sendGroups: r.send_groups,
      maxHeaderBytes: r.max_header_bytes,
      identityHeaders: headerNames(c.identity_headers, r.identity_headers),
      username: { from: c.username.from, maxLength: c.username.max_length },
      passAccessToken: r.pass_access_token,
      bearerHeader: r.bearer_header,
      apiPaths: r.api_paths ?? [],
      allowedOrigins: (r.allowed_origins ?? []).map((o) => o.toLowerCase().replace(/\/+$/, '')),
      caseInsensitivePaths: r.case_insensitive_paths,
      allowEncodedEscapes: r.unsafe_allow_encoded_escapes,
      assertion: r.assertion,
      maxConnections: r.max_connections,
      maxQueue: r.max_queue,
    });
    r.rules?.forEach((rule, j) => {
      if (rule.public && (rule.allow || rule.deny)) problems.push({ path: `${at}.rules[${j}]`, message: 'public: true cannot be combined with allow or deny' });
      // A rule on a path no request can have ("/a//b", "/a/../b") would silently never apply.
      if (compileRoutePath(rule.path) === undefined) problems.push({ path: `${at}.rules[${j}].path`, message: NOT_NORMALISED });
    });
    r.api_paths?.forEach((p, j) => {
      if (compileRoutePath(p) === undefined) problems.push({ path: `${at}.api_paths[${j}]`, message: NOT_NORMALISED });
    });
    r.allowed_origins?.forEach((o, j) => {
      if (!URL.canParse(o) || new URL(o).origin.toLowerCase() !== o.toLowerCase().replace(/\/+$/, '')) {
        problems.push({ path: `${at}.allowed_origins[${j}]`, message: 'must be an origin like "https://notebooks.corp.example"' });
      }
    });
  });

  const assertionTtlMs = parseDuration(c.assertion.ttl);
  if (assertionTtlMs < 10_000 || assertionTtlMs > 300_000) problems.push({ path: 'assertion.ttl', message: 'must be between 10s and 5m' });
  // Compared with client header names after "_" → "-" (WSGI/CGI read both as the same variable).
  const reservedHeaders = [...new Set([
    ...Object.values(DEFAULT_IDENTITY_HEADERS),
    ...routes.flatMap((r) => Object.values(r.identityHeaders)),
  ].filter((h) => h !== '' && h.toLowerCase() !== 'authorization').map((h) => h.toLowerCase().replace(/_/g, '-')))];
  if (c.forward_auth && c.server.trusted_proxies.length === 0) {
    problems.push({ path: 'forward_auth', message: 'needs server.trusted_proxies: only the ingress may ask' });
  }
  const session = compileSession(c.session, devMode, problems, warnings);
  const workers = c.server.workers === 'auto' ? Math.max(1, availableParallelism()) : c.server.workers;
  if (workers > 1 && c.session.store === 'memory') {
    problems.push({ path: 'server.workers', message: `${c.server.workers} workers need session.store: redis (with the memory store each worker would have its own sessions)` });
  }
  const identityProviders = compileProviders(c.identity_providers, devMode, problems);
  const idpIds = new Set(identityProviders.map((p) => p.id));
  c.routes.forEach((r, i) => r.idps?.forEach((id, j) => {
    if (!idpIds.has(id)) problems.push({ path: `routes[${i}].idps[${j}]`, message: `no identity provider with id "${id}"` });
  }));
  // Every IdP can assert any user, e-mail and group name: a partner IdP can say "alice, ml-admins"
  // as well as the corporate one. Which IdPs a route believes is the route's decision (idps:); the
  // upstream is told which one vouched (X-Forwarded-Idp, and the signed assertion's idp claim).
  if (identityProviders.length > 1) {
    c.routes.forEach((r, i) => {
      if (r.idps || (r.allow && 'public' in r.allow && r.allow.public === true && !r.rules?.length)) return;
      warnings.push(`routes[${i}] (${r.name}) believes every identity provider (${[...idpIds].join(', ')}), and each can assert any user or group name: set routes[${i}].idps to the ones it trusts`);
    });
  }

  const dup = findDuplicateMatch(routes);
  if (dup) problems.push({ path: `routes[${dup[1]}]`, message: `same host and path as routes[${dup[0]}]; it could never match` });

  // Before the check below: audit problems (a sink's keys) are problems like any other.
  const audit = compileAudit(c.audit, problems, warnings);

  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    logLevel: c.log_level,
    watch: c.watch,
    devMode,
    server: {
      listen: parseListen(c.server.listen),
      publicUrl: publicUrl.origin,
      trustedProxies: c.server.trusted_proxies,
      tls: c.server.tls ? { certFile: c.server.tls.cert_file, keyFile: c.server.tls.key_file } : undefined,
      shutdownTimeoutMs: parseDuration(c.server.shutdown_timeout),
      headersTimeoutMs: parseDuration(c.server.headers_timeout),
      bodyTimeoutMs: parseDuration(c.server.body_timeout),
      bodyMinRate: c.server.body_min_rate,
      maxTargetBytes: c.server.max_target_bytes,
      workers,
    },
    admin: {
      listen: parseListen(c.admin.listen),
      token: c.admin.token === undefined ? undefined : new Secret(c.admin.token),
    },
    session,
    identityProviders,
    forwardAuth: c.forward_auth,
    audit,
    assertion: { keyFiles: c.assertion.key_files, ttlMs: assertionTtlMs },
    reservedHeaders,
    routes,
  };
  return { config: deepFreeze(config), warnings };
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
  for (let i = 0; i < routes.length; i++) {
    const key = `${routes[i]!.host ?? ''} ${routes[i]!.path}`;
    const j = keys.get(key);
    if (j !== undefined) return [j, i];
    keys.set(key, i);
  }
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Secret)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
