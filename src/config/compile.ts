// Validated raw config → deep-frozen Config with parsed durations, URLs, CIDRs and normalised route
// prefixes. Collects every problem and throws one ConfigError listing them all. No I/O here.
import { isIP } from 'node:net';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { normalizePath } from '../route/normalize.ts';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema, DURATION_PATTERN, type RawAllow, type RawAudit, type RawConfig, type RawDeny, type RawRoute, type RawRule, type RawSamlProvider, type RawSession } from './schema.ts';
import { Secret } from './secret.ts';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface UpstreamConfig {
  /** scheme://host:port, the key for the connection pool. */
  readonly origin: string;
  /** Path prefix of the upstream URL without trailing slash ("" for none). */
  readonly basePath: string;
  /** Host header sent upstream unless preserve_host. */
  readonly host: string;
}

export interface RouteConfig {
  readonly name: string;
  /** Lower-cased host, "*.suffix" for wildcards, undefined for any host. */
  readonly host: string | undefined;
  /** Normalised prefix without trailing slash, "/" for the root. */
  readonly path: string;
  readonly upstream: UpstreamConfig;
  readonly timeoutMs: number;
  readonly preserveHost: boolean;
  readonly allow: Readonly<RawAllow> | undefined;
  /** Identity provider ids allowed to sign in to this route; undefined = all. */
  readonly idps: readonly string[] | undefined;
  readonly deny: Readonly<RawDeny> | undefined;
  readonly rules: readonly Readonly<RawRule>[];
  readonly roles: Readonly<Record<string, string>> | undefined;
  readonly sendGroups: 'all' | 'policy';
  readonly maxHeaderBytes: number;
  /** Header names for this route (global identity_headers with the route's overrides); "" = not sent. */
  readonly identityHeaders: IdentityHeaderNames;
  readonly passAccessToken: boolean;
  readonly apiPaths: readonly string[];
  /** Lower-cased origins allowed to open WebSockets besides the route's own host. */
  readonly allowedOrigins: readonly string[];
  readonly caseInsensitivePaths: boolean;
  readonly assertion: boolean;
}

export interface IdentityHeaderNames {
  readonly user: string;
  readonly email: string;
  readonly name: string;
  readonly groups: string;
  readonly preferredUsername: string;
  readonly roles: string;
  readonly assertion: string;
  readonly accessToken: string;
}

/** oauth2-proxy's names, so existing upstream set-ups work unchanged. */
export const DEFAULT_IDENTITY_HEADERS: IdentityHeaderNames = {
  user: 'X-Forwarded-User',
  email: 'X-Forwarded-Email',
  name: 'X-Forwarded-Name',
  groups: 'X-Forwarded-Groups',
  preferredUsername: 'X-Forwarded-Preferred-Username',
  roles: 'X-Forwarded-Roles',
  assertion: 'X-Gatehouse-Assertion',
  accessToken: 'Authorization',
};

export interface OidcProviderConfig {
  readonly id: string;
  readonly type: 'oidc';
  readonly displayName: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: Secret | undefined;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  readonly privateKeyFile: string | undefined;
  readonly privateKeyAlg: string;
  readonly scopes: readonly string[];
  readonly claims: { readonly user: string; readonly email: string; readonly name: string; readonly groups: string };
  readonly userinfo: 'auto' | 'always' | 'never';
  readonly authorizationParams: Readonly<Record<string, string>>;
  readonly revalidateMs: number | undefined;
  readonly clockToleranceSec: number;
  readonly postLogoutRedirectUri: string | undefined;
  /** Bearer JWTs from this IdP are accepted when their aud is one of these; undefined = not accepted. */
  readonly bearerAudiences: readonly string[] | undefined;
  /** Plain-http issuer on loopback, accepted in dev mode only. */
  readonly allowInsecureHttp: boolean;
}

export interface SamlAttributeNames {
  /** Candidate attribute names (Name or FriendlyName), first found wins. */
  readonly user: readonly string[];
  readonly email: readonly string[];
  readonly name: readonly string[];
  readonly firstName: readonly string[];
  readonly lastName: readonly string[];
  readonly groups: readonly string[];
}

export interface SamlProviderConfig {
  readonly id: string;
  readonly type: 'saml';
  readonly displayName: string;
  readonly metadataUrl: string | undefined;
  readonly metadataFile: string | undefined;
  readonly entryPoint: string | undefined;
  /** PEM texts or file paths, resolved when the provider is built. */
  readonly idpCerts: readonly string[];
  readonly idpIssuer: string | undefined;
  readonly sloUrl: string | undefined;
  readonly spEntityId: string;
  readonly spKeyFile: string | undefined;
  readonly spCertFile: string | undefined;
  readonly spDecryptionKeyFile: string | undefined;
  readonly signed: 'assertion' | 'response' | 'both' | 'either';
  readonly attributes: SamlAttributeNames;
  /** attributes.user was set explicitly: no fallback to the NameID. */
  readonly userAttributeRequired: boolean;
  readonly nameIdFormat: string;
  readonly allowIdpInitiated: boolean;
  readonly clockSkewMs: number;
  readonly maxResponseBytes: number;
  readonly metadataRefreshMs: number;
  readonly allowInsecureHttp: boolean;
}

export type IdentityProviderConfig = OidcProviderConfig | SamlProviderConfig;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface RedisConfig {
  readonly mode: 'standalone' | 'sentinel' | 'cluster';
  /** Standalone URL (may hold a password, hence Secret). */
  readonly url: Secret | undefined;
  /** Sentinel or cluster seed nodes. */
  readonly nodes: readonly HostPort[];
  readonly name: string | undefined;
  readonly username: string | undefined;
  readonly password: Secret | undefined;
  readonly sentinelPassword: Secret | undefined;
  readonly tls: boolean;
  readonly db: number | undefined;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
}

export interface CookieConfig {
  readonly name: string;
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict' | 'None';
  readonly domain: string | undefined;
}

export interface SessionConfig {
  readonly store: 'memory' | 'redis';
  readonly redis: RedisConfig | undefined;
  readonly maxSessions: number;
  readonly cookie: CookieConfig;
  /** Undefined only with the memory store: the runtime then makes a per-process random one. */
  readonly secret: Secret | undefined;
  readonly idleMs: number;
  readonly absoluteMs: number;
}

export type AuditSinkConfig =
  | { readonly type: 'stdout' }
  | { readonly type: 'file'; readonly path: string; readonly maxBytes: number; readonly maxFiles: number; readonly fsync: 'always' | 'interval' | 'never' }
  | { readonly type: 'syslog'; readonly transport: 'tcp' | 'udp'; readonly tls: boolean; readonly host: string; readonly port: number; readonly caFile: string | undefined; readonly appName: string; readonly facility: number }
  | { readonly type: 'http'; readonly url: string; readonly format: 'hec' | 'ndjson'; readonly token: Secret | undefined; readonly batchSize: number; readonly gzip: boolean; readonly timeoutMs: number; readonly caFile: string | undefined };

export interface AuditConfig {
  readonly format: 'ecs' | 'ocsf';
  readonly sinks: readonly AuditSinkConfig[];
  readonly onSinkFailure: 'buffer' | 'block';
  readonly spoolDir: string;
  readonly queueSize: number;
}

export interface Config {
  readonly logLevel: RawConfig['log_level'];
  readonly watch: boolean;
  /** http:// public_url on a loopback host: relaxed cookie/URL rules, warned about at start. */
  readonly devMode: boolean;
  readonly server: {
    readonly listen: ListenAddress;
    readonly publicUrl: string;
    readonly trustedProxies: readonly string[];
    readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
    readonly shutdownTimeoutMs: number;
    /** Worker processes; 1 = no supervisor. */
    readonly workers: number;
  };
  readonly admin: {
    readonly listen: ListenAddress;
    readonly token: Secret | undefined;
  };
  readonly session: SessionConfig;
  readonly identityProviders: readonly IdentityProviderConfig[];
  /** Forward-auth header source; undefined = /.gatehouse/auth is off. */
  readonly forwardAuth: { readonly headers: 'original_url' | 'forwarded' } | undefined;
  readonly audit: AuditConfig;
  readonly assertion: { readonly keyFiles: readonly string[] | undefined; readonly ttlMs: number };
  /** Every identity header name configured anywhere (lower-case): stripped from every request. */
  readonly reservedHeaders: readonly string[];
  readonly routes: readonly RouteConfig[];
}

export interface CompileResult {
  readonly config: Config;
  /** Things that work but deserve a line in the startup log / check-config output. */
  readonly warnings: readonly string[];
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string): number {
  const m = DURATION_PATTERN.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

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

function parseListen(value: string): ListenAddress {
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(i + 1)) };
}

/** Validate an IP or CIDR ("10.0.0.0/8", "::1", "fd00::/8"); returns a message or undefined. */
export function checkCidr(value: string): string | undefined {
  const [addr, bits, extra] = value.split('/');
  const family = isIP(addr ?? '');
  if (!family || extra !== undefined) return `"${value}" is not an IP address or CIDR`;
  if (bits === undefined) return undefined;
  const n = Number(bits);
  const max = family === 4 ? 32 : 128;
  if (!/^\d+$/.test(bits) || n > max) return `"${value}" has a bad prefix length (0-${max})`;
  return undefined;
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
    if (!r.allow && !r.rules?.some((x) => x.public || x.allow)) warnings.push(`${at} (${r.name}) has no "allow": nobody can use it (default deny)`);
    else if (!r.allow) warnings.push(`${at} (${r.name}) has no "allow": requests no rule matches are denied (default deny)`);

    routes.push({
      name: r.name,
      host: r.host?.toLowerCase(),
      path: path ?? '/',
      upstream: compileUpstream(r.upstream),
      timeoutMs: parseDuration(r.timeout),
      preserveHost: r.preserve_host,
      allow: r.allow,
      idps: r.idps,
      deny: r.deny,
      rules: r.rules ?? [],
      roles: r.roles,
      sendGroups: r.send_groups,
      maxHeaderBytes: r.max_header_bytes,
      identityHeaders: headerNames(c.identity_headers, r.identity_headers),
      passAccessToken: r.pass_access_token,
      apiPaths: r.api_paths ?? [],
      allowedOrigins: (r.allowed_origins ?? []).map((o) => o.toLowerCase().replace(/\/+$/, '')),
      caseInsensitivePaths: r.case_insensitive_paths,
      assertion: r.assertion,
    });
    r.rules?.forEach((rule, j) => {
      if (rule.public && (rule.allow || rule.deny)) problems.push({ path: `${at}.rules[${j}]`, message: 'public: true cannot be combined with allow or deny' });
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

  const dup = findDuplicateMatch(routes);
  if (dup) problems.push({ path: `routes[${dup[1]}]`, message: `same host and path as routes[${dup[0]}]; it could never match` });

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
      workers,
    },
    admin: {
      listen: parseListen(c.admin.listen),
      token: c.admin.token === undefined ? undefined : new Secret(c.admin.token),
    },
    session,
    identityProviders,
    forwardAuth: c.forward_auth,
    audit: compileAudit(c.audit, problems, warnings),
    assertion: { keyFiles: c.assertion.key_files, ttlMs: assertionTtlMs },
    reservedHeaders,
    routes,
  };
  return { config: deepFreeze(config), warnings };
}

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

function parseSize(v: string): number {
  const m = /^(\d+)\s*(B|KB|MB|GB)?$/i.exec(v)!;
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? 'B').toUpperCase()]!;
}

function compileAudit(a: RawAudit, problems: ConfigProblem[], warnings: string[]): AuditConfig {
  const sinks = a.sinks.map((s, i): AuditSinkConfig => {
    switch (s.type) {
      case 'stdout':
        return { type: 'stdout' };
      case 'file': {
        const maxBytes = parseSize(s.max_size);
        if (maxBytes < 4096) problems.push({ path: `audit.sinks[${i}].max_size`, message: 'must be at least 4KB' });
        return { type: 'file', path: s.path, maxBytes, maxFiles: s.max_files, fsync: s.fsync };
      }
      case 'syslog': {
        const u = new URL(s.url);
        const scheme = u.protocol.slice(0, -1);
        if (scheme === 'udp' && s.tls) problems.push({ path: `audit.sinks[${i}].tls`, message: 'TLS needs tcp:// or tls://, not udp://' });
        return { type: 'syslog', transport: scheme === 'udp' ? 'udp' : 'tcp', tls: s.tls || scheme === 'tls', host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port), caFile: s.ca_file, appName: s.app_name, facility: s.facility };
      }
      case 'http':
        return { type: 'http', url: s.url, format: s.format, token: s.token === undefined ? undefined : new Secret(s.token), batchSize: s.batch_size, gzip: s.gzip, timeoutMs: parseDuration(s.timeout), caFile: s.ca_file };
    }
  });
  const names = new Map<string, number>();
  sinks.forEach((s, i) => {
    const key = s.type === 'file' ? `file:${s.path}` : s.type === 'syslog' ? `syslog:${s.host}:${s.port}` : s.type === 'http' ? `http:${s.url}` : 'stdout';
    const j = names.get(key);
    if (j !== undefined) problems.push({ path: `audit.sinks[${i}]`, message: `same destination as audit.sinks[${j}]` });
    names.set(key, i);
  });
  if (sinks.length === 0) warnings.push('audit.sinks is empty: no audit trail is written');
  if (a.spool_dir === undefined && sinks.some((s) => s.type === 'syslog' || s.type === 'http')) {
    warnings.push('audit.spool_dir is not set: records for a sink that is down wait in the system temp directory; set a persistent directory');
  }
  return { format: a.format, sinks, onSinkFailure: a.on_sink_failure, spoolDir: a.spool_dir ?? join(tmpdir(), 'gatehouse-spool'), queueSize: a.queue_size };
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
    assertion: pick('assertion', d.assertion),
    accessToken: pick('access_token', d.accessToken),
  };
}

function compileProviders(list: RawConfig['identity_providers'], devMode: boolean, problems: ConfigProblem[]): IdentityProviderConfig[] {
  const seen = new Map<string, number>();
  return list.map((p, i): IdentityProviderConfig => {
    const at = `identity_providers[${i}]`;
    const first = seen.get(p.id);
    if (first !== undefined) problems.push({ path: `${at}.id`, message: `duplicate identity provider id "${p.id}" (also identity_providers[${first}])` });
    else seen.set(p.id, i);
    if (p.type === 'saml') return compileSaml(p, at, devMode, problems);
    const issuer = new URL(p.issuer);
    const loopback = LOOPBACK_HOSTS.has(issuer.hostname);
    if (issuer.protocol === 'http:' && !(devMode && loopback)) {
      problems.push({ path: `${at}.issuer`, message: 'must be https:// (plain http only for a loopback IdP in dev mode)' });
    }
    if (!p.scopes.includes('openid')) problems.push({ path: `${at}.scopes`, message: 'must include "openid"' });
    if (p.token_endpoint_auth_method !== 'private_key_jwt' && p.client_secret === undefined) {
      problems.push({ path: `${at}.client_secret`, message: `required with token_endpoint_auth_method ${p.token_endpoint_auth_method}` });
    }
    if (p.token_endpoint_auth_method === 'private_key_jwt' && p.private_key_file === undefined) {
      problems.push({ path: `${at}.private_key_file`, message: 'required with token_endpoint_auth_method private_key_jwt' });
    }
    return {
      id: p.id,
      type: 'oidc' as const,
      displayName: p.display_name ?? p.id,
      // Issuer identifiers compare exactly: keep what the user wrote (no trailing-slash games).
      issuer: p.issuer,
      clientId: p.client_id,
      clientSecret: p.client_secret === undefined ? undefined : new Secret(p.client_secret),
      authMethod: p.token_endpoint_auth_method,
      privateKeyFile: p.private_key_file,
      privateKeyAlg: p.private_key_alg,
      scopes: p.scopes,
      claims: p.claims,
      userinfo: p.userinfo,
      authorizationParams: p.authorization_params ?? {},
      revalidateMs: p.revalidate_interval === undefined ? undefined : parseDuration(p.revalidate_interval),
      clockToleranceSec: Math.ceil(parseDuration(p.clock_tolerance) / 1000),
      postLogoutRedirectUri: p.post_logout_redirect_uri,
      bearerAudiences: p.bearer_audiences,
      allowInsecureHttp: issuer.protocol === 'http:' && devMode && loopback,
    };
  });
}

// Attribute names by IdP family (SAML attribute Name or FriendlyName), most specific first.
const SAML_PRESETS: Record<RawSamlProvider['preset'], Omit<SamlAttributeNames, 'user'> & { user: readonly string[] }> = {
  generic: {
    user: [],
    email: ['email', 'mail', 'emailAddress', 'urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
    name: ['displayName', 'name', 'urn:oid:2.16.840.1.113730.3.1.241', 'http://schemas.microsoft.com/identity/claims/displayname'],
    firstName: ['givenName', 'firstName', 'first_name', 'urn:oid:2.5.4.42', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'],
    lastName: ['sn', 'surname', 'lastName', 'last_name', 'urn:oid:2.5.4.4', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'],
    groups: ['groups', 'memberOf', 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', 'http://schemas.xmlsoap.org/claims/Group'],
  },
  azure: {
    user: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
    email: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
    name: ['http://schemas.microsoft.com/identity/claims/displayname'],
    firstName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'],
    lastName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'],
    groups: ['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups'],
  },
  adfs: {
    user: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'],
    email: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
    name: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
    firstName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'],
    lastName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'],
    groups: ['http://schemas.xmlsoap.org/claims/Group', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  },
  okta: { user: [], email: ['email'], name: ['displayName', 'name'], firstName: ['firstName'], lastName: ['lastName'], groups: ['groups'] },
  google: { user: [], email: ['email'], name: ['name'], firstName: ['first_name', 'firstName'], lastName: ['last_name', 'lastName'], groups: ['groups'] },
};

function compileSaml(p: RawSamlProvider, at: string, devMode: boolean, problems: ConfigProblem[]): SamlProviderConfig {
  const sources = [p.idp_metadata_url, p.idp_metadata_file, p.entry_point].filter((x) => x !== undefined).length;
  if (sources !== 1) problems.push({ path: at, message: 'set exactly one of idp_metadata_url, idp_metadata_file, or entry_point (+ idp_cert)' });
  if (p.entry_point !== undefined && p.idp_cert === undefined) problems.push({ path: `${at}.idp_cert`, message: 'required with entry_point' });
  if (p.sp_cert_file !== undefined && p.sp_key_file === undefined) problems.push({ path: `${at}.sp_key_file`, message: 'required with sp_cert_file' });
  let insecure = false;
  for (const [key, url] of [['idp_metadata_url', p.idp_metadata_url], ['entry_point', p.entry_point], ['slo_url', p.slo_url]] as const) {
    if (url === undefined) continue;
    const u = new URL(url);
    if (u.protocol === 'http:') {
      if (devMode && LOOPBACK_HOSTS.has(u.hostname)) insecure = true;
      else problems.push({ path: `${at}.${key}`, message: 'must be https:// (plain http only for a loopback IdP in dev mode)' });
    }
  }
  const preset = SAML_PRESETS[p.preset];
  const pick = (own: string | undefined, fallback: readonly string[]) => (own !== undefined ? [own] : fallback);
  const a = p.attributes;
  return {
    id: p.id,
    type: 'saml',
    displayName: p.display_name ?? p.id,
    metadataUrl: p.idp_metadata_url,
    metadataFile: p.idp_metadata_file,
    entryPoint: p.entry_point,
    idpCerts: p.idp_cert === undefined ? [] : Array.isArray(p.idp_cert) ? p.idp_cert : [p.idp_cert],
    idpIssuer: p.idp_issuer,
    sloUrl: p.slo_url,
    spEntityId: p.sp_entity_id,
    spKeyFile: p.sp_key_file,
    spCertFile: p.sp_cert_file,
    spDecryptionKeyFile: p.sp_decryption_key_file ?? p.sp_key_file,
    signed: p.signed,
    attributes: {
      user: pick(a.user, preset.user),
      email: pick(a.email, preset.email),
      name: pick(a.name, preset.name),
      firstName: pick(a.first_name, preset.firstName),
      lastName: pick(a.last_name, preset.lastName),
      groups: pick(a.groups, preset.groups),
    },
    userAttributeRequired: a.user !== undefined,
    nameIdFormat: p.nameid_format,
    allowIdpInitiated: p.allow_idp_initiated,
    clockSkewMs: parseDuration(p.clock_skew),
    maxResponseBytes: parseSize(p.max_response_size),
    metadataRefreshMs: parseDuration(p.metadata_refresh),
    allowInsecureHttp: insecure,
  };
}

const MIN_SECRET_BYTES = 32;

function compileSession(s: RawSession, devMode: boolean, problems: ConfigProblem[], warnings: string[]): SessionConfig {
  const idleMs = parseDuration(s.idle_timeout);
  const absoluteMs = parseDuration(s.absolute_timeout);
  if (idleMs > absoluteMs) problems.push({ path: 'session.idle_timeout', message: 'must not be longer than session.absolute_timeout' });
  if (idleMs < 1000) problems.push({ path: 'session.idle_timeout', message: 'must be at least 1s' });

  let secret: Secret | undefined;
  if (s.secret !== undefined) {
    if (Buffer.byteLength(s.secret) < MIN_SECRET_BYTES) {
      problems.push({ path: 'session.secret', message: `too weak: must be at least ${MIN_SECRET_BYTES} bytes (e.g. \`openssl rand -base64 48\`)` });
    } else if (/^(.)\1*$/su.test(s.secret)) {
      problems.push({ path: 'session.secret', message: 'too weak: a single repeated character' });
    }
    secret = new Secret(s.secret);
  } else if (s.store === 'redis') {
    problems.push({ path: 'session.secret', message: 'required with store: redis (every replica must sign cookies with the same secret)' });
  } else {
    warnings.push('session.secret is not set: using a random per-process secret (sessions end when the process restarts)');
  }

  const cookie = compileCookie(s.cookie, devMode, problems, warnings);

  let redis: RedisConfig | undefined;
  if (s.store === 'redis') {
    if (!s.redis) problems.push({ path: 'session.redis', message: 'required with store: redis (url, or sentinels + name, or cluster)' });
    else redis = compileRedis(s.redis, problems);
  } else {
    if (s.redis) warnings.push('session.redis is set but session.store is memory: Redis is not used');
    warnings.push('session store: memory (single process; sessions are lost on restart and not shared between replicas)');
  }

  return {
    store: s.store,
    redis,
    maxSessions: s.memory?.max_sessions ?? 100_000,
    cookie,
    secret,
    idleMs,
    absoluteMs,
  };
}

function compileCookie(c: RawSession['cookie'], devMode: boolean, problems: ConfigProblem[], warnings: string[]): CookieConfig {
  const secure = c.secure;
  if (!secure && !devMode) problems.push({ path: 'session.cookie.secure', message: 'false is only allowed in dev mode (http public_url on loopback)' });
  if (c.same_site === 'none' && !secure) problems.push({ path: 'session.cookie.same_site', message: '"none" requires secure: true' });
  let name = c.name ?? (c.domain ? '__Secure-gatehouse' : '__Host-gatehouse');
  if (c.domain && c.name === undefined) {
    warnings.push(`session.cookie.domain is set, so the cookie is named "__Secure-gatehouse": a __Host- cookie cannot carry a Domain (and is then no longer protected from being set by other subdomains of ${c.domain})`);
  }
  if (c.domain && name.startsWith('__Host-')) {
    problems.push({ path: 'session.cookie.name', message: 'a __Host- cookie cannot have a domain; use a __Secure- name (the default when domain is set)' });
  }
  if (!secure) {
    const plain = name.replace(/^__(Host|Secure)-/, '');
    if (plain !== name) warnings.push(`dev mode: session cookie is not Secure, so its name drops the prefix: "${plain}"`);
    else warnings.push('dev mode: session cookie is not Secure');
    name = plain;
  }
  return { name, secure, sameSite: c.same_site === 'lax' ? 'Lax' : c.same_site === 'strict' ? 'Strict' : 'None', domain: c.domain?.toLowerCase() };
}

function parseHostPort(v: string): HostPort {
  const a = parseListen(v);
  return { host: a.host, port: a.port };
}

function compileRedis(r: NonNullable<RawSession['redis']>, problems: ConfigProblem[]): RedisConfig {
  const modes = [r.url !== undefined, r.sentinels !== undefined, r.cluster !== undefined].filter(Boolean).length;
  if (modes !== 1) problems.push({ path: 'session.redis', message: 'set exactly one of url, sentinels (+ name) or cluster' });
  if (r.sentinels && !r.name) problems.push({ path: 'session.redis.name', message: 'required with sentinels (the master name)' });
  const mode = r.cluster ? 'cluster' : r.sentinels ? 'sentinel' : 'standalone';
  const urlTls = r.url !== undefined && URL.canParse(r.url) && new URL(r.url).protocol === 'rediss:';
  if (urlTls && r.tls === false) problems.push({ path: 'session.redis.tls', message: 'false contradicts the rediss:// url' });
  if (r.cluster && r.db !== undefined) problems.push({ path: 'session.redis.db', message: 'Redis Cluster has only database 0' });
  if (parseDuration(r.command_timeout) === 0) problems.push({ path: 'session.redis.command_timeout', message: 'must be longer than 0' });
  if (r.url !== undefined && (r.name !== undefined || r.sentinel_password !== undefined)) {
    problems.push({ path: 'session.redis', message: 'name and sentinel_password belong with sentinels, not url' });
  }
  return {
    mode,
    url: r.url === undefined ? undefined : new Secret(r.url),
    nodes: (r.cluster ?? r.sentinels ?? []).map(parseHostPort),
    name: r.name,
    username: r.username,
    password: r.password === undefined ? undefined : new Secret(r.password),
    sentinelPassword: r.sentinel_password === undefined ? undefined : new Secret(r.sentinel_password),
    tls: r.tls ?? urlTls,
    db: r.db,
    keyPrefix: r.key_prefix,
    commandTimeoutMs: parseDuration(r.command_timeout),
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
