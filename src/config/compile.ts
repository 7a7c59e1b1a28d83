// Validated raw config → deep-frozen Config with parsed durations, URLs, CIDRs and normalised route
// prefixes. Collects every problem and throws one ConfigError listing them all. No I/O here.
// Each section has its compiler (compile-*.ts) returning its part and its findings; this file
// checks what spans sections and puts the parts together.
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { availableParallelism } from 'node:os';
import { compileAudit } from './compile-audit.ts';
import { compileProviders } from './compile-providers.ts';
import { checkRoutesAcross, compileRoutes } from './compile-routes.ts';
import { compilePat } from './compile-tokens.ts';
import { compileSession } from './compile-session.ts';
import { compileSsf } from './compile-ssf.ts';
import { Findings, type Checked } from './findings.ts';
import { configHash } from './hash.ts';
import { ConfigSchema, type RawConfig } from './schema.ts';
import { Secret, secretProblems } from './secret.ts';
import { DEFAULT_IDENTITY_HEADERS, type CompileResult, type Config, type RouteConfig } from './types.ts';
import { checkCidr, LOOPBACK_HOSTS, parseDuration, parseListen, parseSize } from './units.ts';

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

/**
 * `server.workers: auto`: one worker process per CPU but one. A Gatehouse process keeps more than
 * one CPU busy at full load: its event loop, V8's GC threads, the audit thread when
 * audit.worker_thread is on, and the kernel's work on its sockets. One CPU per process is left to
 * those, so on two CPUs `auto` runs a single process (two measured 0.76–1.04x of one there:
 * docs/performance.md).
 */
export function autoWorkers(cpus: number): number {
  return Math.max(1, cpus - 1);
}

/** Validate `input` (the output of load.ts) and compile it; throws ConfigError with every problem. */
export function compileConfig(input: unknown): CompileResult {
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error));
  const raw = parsed.data;
  const f = new Findings();

  const { publicUrl, devMode } = f.take(compilePublicUrl(raw.server.public_url));
  f.take(checkServer(raw.server));
  const routes = f.take(compileRoutes(raw));
  const assertionTtlMs = parseDuration(raw.assertion.ttl);
  if (assertionTtlMs < 10_000 || assertionTtlMs > 300_000) f.problem('assertion.ttl', 'must be between 10s and 5m');
  if (raw.forward_auth && raw.server.trusted_proxies.length === 0) {
    f.problem('forward_auth', 'needs server.trusted_proxies: only the ingress may ask');
  }
  const session = f.take(compileSession(raw.session, devMode));
  const workers = raw.server.workers === 'auto' ? autoWorkers(availableParallelism()) : raw.server.workers;
  if (workers > 1 && raw.session.store === 'memory') {
    f.problem(
      'server.workers',
      `${raw.server.workers} workers need session.store: redis (with the memory store each worker would have its own sessions)`,
    );
  }
  const identityProviders = f.take(compileProviders(raw.identity_providers, devMode));
  f.take(checkRoutesAcross(raw, routes, new Set(identityProviders.map((p) => p.id))));
  // Before the check below: audit problems (a sink's keys) are problems like any other.
  const audit = f.take(compileAudit(raw.audit));
  const pat = f.take(compilePat(raw.tokens.pat));
  const ssf = f.take(compileSsf(raw.ssf, devMode));
  for (const p of secretProblems(raw, devMode)) if (!f.problems.some((q) => q.path === p.path)) f.problem(p.path, p.message);

  if (f.problems.length > 0) throw new ConfigError(f.problems);

  const compiled: Omit<Config, 'hash'> = {
    logLevel: raw.log_level,
    watch: raw.watch,
    devMode,
    server: compileServer(raw.server, publicUrl, workers),
    admin: {
      listen: parseListen(raw.admin.listen),
      token: raw.admin.token === undefined ? undefined : new Secret(raw.admin.token),
    },
    session,
    tokens: { pat },
    identityProviders,
    forwardAuth: raw.forward_auth,
    ssf,
    audit,
    assertion: { keyFiles: raw.assertion.key_files, ttlMs: assertionTtlMs },
    scim:
      raw.scim === undefined
        ? undefined
        : {
            token: new Secret(raw.scim.token),
            groups: raw.scim.groups,
            userKey: raw.scim.user_key,
            maxBodyBytes: parseSize(raw.scim.max_body),
            ratePerMinute: raw.scim.rate_limit,
          },
    reservedHeaders: reservedHeaders(routes),
    routes,
  };
  // Once, at load: which configuration was in force is on every audit record.
  const config: Config = { hash: configHash(compiled), ...compiled };
  return { config: deepFreeze(config), warnings: f.warnings };
}

/** public_url: https, or plain http on loopback (dev mode, which relaxes cookie and URL rules). */
function compilePublicUrl(url: string): Checked<{ publicUrl: URL; devMode: boolean }> {
  const f = new Findings();
  const publicUrl = new URL(url);
  const devMode = publicUrl.protocol === 'http:' && LOOPBACK_HOSTS.has(publicUrl.hostname);
  if (publicUrl.protocol === 'http:' && !devMode) {
    f.problem('server.public_url', 'must be https:// (plain http is only allowed on a loopback address, for local development)');
  }
  if (publicUrl.pathname !== '/' || publicUrl.search || publicUrl.hash) {
    f.problem('server.public_url', 'must be a base URL without path, query or fragment');
  }
  if (devMode) f.warn(`dev mode: server.public_url ${publicUrl.origin} is plain http on loopback; do not use this config in production`);
  return f.result({ publicUrl, devMode });
}

function checkServer(server: RawConfig['server']): Checked<void> {
  const f = new Findings();
  // 0 would switch Node's guard off: a slowloris client could then hold a socket for ever.
  for (const key of ['headers_timeout', 'body_timeout'] as const) {
    if (parseDuration(server[key]) === 0) f.problem(`server.${key}`, 'must be longer than 0');
  }
  server.trusted_proxies.forEach((cidr, i) => {
    const msg = checkCidr(cidr);
    if (msg) f.problem(`server.trusted_proxies[${i}]`, msg);
  });
  return f.result(undefined);
}

function compileServer(server: RawConfig['server'], publicUrl: URL, workers: number): Config['server'] {
  return {
    listen: parseListen(server.listen),
    publicUrl: publicUrl.origin,
    trustedProxies: server.trusted_proxies,
    tls: server.tls ? { certFile: server.tls.cert_file, keyFile: server.tls.key_file } : undefined,
    shutdownTimeoutMs: parseDuration(server.shutdown_timeout),
    headersTimeoutMs: parseDuration(server.headers_timeout),
    bodyTimeoutMs: parseDuration(server.body_timeout),
    bodyMinRate: server.body_min_rate,
    maxTargetBytes: server.max_target_bytes,
    workers,
  };
}

/** Every identity header name configured anywhere, stripped from every request (lower-case). */
function reservedHeaders(routes: readonly RouteConfig[]): string[] {
  // Compared with client header names after "_" → "-" (WSGI/CGI read both as the same variable).
  return [
    ...new Set(
      [...Object.values(DEFAULT_IDENTITY_HEADERS), ...routes.flatMap((r) => Object.values(r.identityHeaders))]
        .filter((h) => h !== '' && h.toLowerCase() !== 'authorization')
        .map((h) => h.toLowerCase().replace(/_/g, '-')),
    ),
  ];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Secret)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
