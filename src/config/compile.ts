// Validated raw config → deep-frozen Config with parsed durations, URLs, CIDRs and normalised route
// prefixes. Collects every problem and throws one ConfigError listing them all. No I/O here.
import { isIP } from 'node:net';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { normalizePath } from '../route/normalize.ts';
import { ConfigSchema, DURATION_PATTERN, type RawAllow, type RawConfig } from './schema.ts';
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
}

export interface Config {
  readonly logLevel: RawConfig['log_level'];
  /** http:// public_url on a loopback host: relaxed cookie/URL rules, warned about at start. */
  readonly devMode: boolean;
  readonly server: {
    readonly listen: ListenAddress;
    readonly publicUrl: string;
    readonly trustedProxies: readonly string[];
    readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
    readonly shutdownTimeoutMs: number;
  };
  readonly admin: {
    readonly listen: ListenAddress;
    readonly token: Secret | undefined;
  };
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

function compileRoutePath(path: string): string | undefined {
  const normalised = normalizePath(path);
  if (!normalised.ok) return undefined;
  const p = normalised.path;
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
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
    if (path === undefined) problems.push({ path: `${at}.path`, message: 'must be a plain path prefix (no dot segments, encoded slashes or invalid escapes)' });

    const upstream = new URL(r.upstream);
    if (upstream.search || upstream.hash || upstream.username || upstream.password) {
      problems.push({ path: `${at}.upstream`, message: 'must not contain a query, fragment or credentials' });
    }
    if (!r.allow) warnings.push(`${at} (${r.name}) has no "allow": nobody can use it (default deny)`);

    routes.push({
      name: r.name,
      host: r.host?.toLowerCase(),
      path: path ?? '/',
      upstream: compileUpstream(r.upstream),
      timeoutMs: parseDuration(r.timeout),
      preserveHost: r.preserve_host,
      allow: r.allow,
    });
  });

  const dup = findDuplicateMatch(routes);
  if (dup) problems.push({ path: `routes[${dup[1]}]`, message: `same host and path as routes[${dup[0]}]; it could never match` });

  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    logLevel: c.log_level,
    devMode,
    server: {
      listen: parseListen(c.server.listen),
      publicUrl: publicUrl.origin,
      trustedProxies: c.server.trusted_proxies,
      tls: c.server.tls ? { certFile: c.server.tls.cert_file, keyFile: c.server.tls.key_file } : undefined,
      shutdownTimeoutMs: parseDuration(c.server.shutdown_timeout),
    },
    admin: {
      listen: parseListen(c.admin.listen),
      token: c.admin.token === undefined ? undefined : new Secret(c.admin.token),
    },
    routes,
  };
  return { config: deepFreeze(config), warnings };
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
