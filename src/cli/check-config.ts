// `gatehouse check-config`: load and compile only (no network, no listening), then show what will
// run — listeners, session store, identity providers, routes with their policies — or every
// problem with its key path. Exit code 0 = usable, 1 = not.
import { compileConfig } from '../config/compile.ts';
import type { Config, IdentityProviderConfig, RouteConfig } from '../config/types.ts';
import { loadConfigFile } from '../config/load.ts';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { explain } from './explain.ts';
import { printLine } from './print.ts';

export function runCheckConfig(configPath: string, out: (line: string) => void = printLine, explainArgs?: readonly string[]): number {
  try {
    const raw = loadConfigFile(configPath);
    const { config, warnings } = compileReportingAll(raw);
    if (explainArgs) {
      for (const line of explain(config, explainArgs)) out(line);
      return 0;
    }
    out(`${configPath}: OK`);
    for (const line of summarize(config)) out(line);
    for (const w of warnings) out(`warning: ${w}`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      out(`${configPath}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/**
 * compileConfig, but a missing section ("server: required") also reports the keys it needs
 * ("server.public_url: required"), so a user fixes everything in one run instead of one per run:
 * the section is compiled once more as `{}` and its own required keys are added.
 */
function compileReportingAll(raw: unknown): ReturnType<typeof compileConfig> {
  try {
    return compileConfig(raw);
  } catch (err) {
    if (!(err instanceof ConfigError) || raw === null || typeof raw !== 'object') throw err;
    const missing = err.problems.filter((p) => p.message === 'required' && p.path && !/[.[]/.test(p.path)).map((p) => p.path);
    if (missing.length === 0) throw err;
    const filled = { ...(raw as Record<string, unknown>), ...Object.fromEntries(missing.map((k) => [k, {}])) };
    let more: readonly ConfigProblem[] = [];
    try {
      compileConfig(filled);
    } catch (again) {
      if (again instanceof ConfigError) more = again.problems;
    }
    const nested = more.filter((p) => p.message === 'required' && missing.some((k) => p.path.startsWith(`${k}.`)));
    const known = new Set(err.problems.map((p) => `${p.path}\0${p.message}`));
    const added = nested.filter((p) => !known.has(`${p.path}\0${p.message}`));
    // Each section's own keys right under its "required" line.
    throw new ConfigError(
      err.problems.flatMap((p) => [
        p,
        ...(missing.includes(p.path) && p.message === 'required' ? added.filter((n) => n.path.startsWith(`${p.path}.`)) : []),
      ]),
    );
  }
}

/** Human-readable summary. Secrets show as "[redacted]" (Secret.toString). */
export function summarize(config: Config): string[] {
  const s = config.server;
  return [
    `  public_url:   ${s.publicUrl}${config.devMode ? '   (dev mode)' : ''}`,
    `  listen:       ${s.listen.host}:${s.listen.port}${s.tls ? ' (TLS)' : ''}${s.workers > 1 ? `, ${s.workers} workers` : ''}`,
    `  admin:        ${config.admin.listen.host}:${config.admin.listen.port}, token ${config.admin.token ? String(config.admin.token) : 'not set (/admin/* refused)'}`,
    `  trusted:      ${s.trustedProxies.length ? s.trustedProxies.join(', ') : 'none (X-Forwarded-* from clients ignored)'}`,
    `  session:      ${sessionLine(config)}`,
    ...(config.scim ? [`  scim:         ${scimLine(config)}`] : []),
    `  identity providers: ${config.identityProviders.length || 'none (only public routes can be used)'}`,
    ...table(config.identityProviders.map(providerRow), ['ID', 'TYPE', 'ISSUER / METADATA', 'CLIENT / SP']),
    `  routes:       ${config.routes.length}`,
    ...table(config.routes.map(routeRow), ['NAME', 'HOST+PATH', 'UPSTREAM', 'POLICY']),
  ];
}

/** SCIM provisioning (issue 19): where, and how its users map onto Gatehouse's `user`. */
function scimLine(config: Config): string {
  const s = config.scim!;
  const url = new URL('/.gatehouse/scim/v2/', config.server.publicUrl).href;
  const claims = [...new Set(config.identityProviders.map((p) => ('claims' in p ? p.claims?.user : undefined) ?? 'email'))];
  const store = config.session.store === 'redis' ? 'in the session store (Redis)' : 'in memory (this process only)';
  return `${url}, token ${String(s.token)}, groups ${s.groups}, user_key ${s.userKey} (sign-ins name users by ${claims.join(', ') || 'nothing yet'}), directory ${store}`;
}

function sessionLine(config: Config): string {
  const s = config.session;
  const secret = s.secret ? 'secret set' : 'random per-process secret';
  if (s.store === 'memory') return `memory (one process; sessions end on restart), ${secret}, cookie ${s.cookie.name}`;
  const r = s.redis;
  let where = r?.mode ?? 'redis';
  if (r?.mode === 'standalone' && r.url) {
    // The URL may carry a password: show only where it points.
    const u = URL.canParse(r.url.value()) ? new URL(r.url.value()) : undefined;
    where = u ? `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}` : 'standalone';
  } else if (r) where = `${r.mode} ${r.nodes.map((n) => `${n.host}:${n.port}`).join(', ')}${r.name ? ` (${r.name})` : ''}`;
  return `redis ${where}, ${secret}, cookie ${s.cookie.name}`;
}

function providerRow(p: IdentityProviderConfig): string[] {
  if (p.type === 'oidc') return [p.id, 'oidc', p.issuer, `client ${p.clientId}`];
  return [p.id, 'saml', p.metadataUrl ?? p.metadataFile ?? p.entryPoint ?? '-', p.spEntityId];
}

function routeRow(r: RouteConfig): string[] {
  const who = (rule: object | undefined) =>
    rule
      ? // Written as in the config file: emailDomains → email_domains.
        Object.entries(rule)
          .map(([k, v]) => `${k.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`)}=${Array.isArray(v) ? v.join('|') : String(v)}`)
          .join(' ')
      : undefined;
  const parts = [r.allow ? `allow ${who(r.allow)}` : 'nobody (no allow)'];
  if (r.deny) parts.push(`deny ${who(r.deny)}`);
  if (r.idps) parts.push(`idps ${r.idps.join('|')}`);
  if (r.rules.length) parts.push(`${r.rules.length} rule${r.rules.length === 1 ? '' : 's'}`);
  return [r.name, `${r.host ?? '*'}${r.path}`, `${r.upstream.origin}${r.upstream.basePath}`, parts.join('; ')];
}

/** Rows padded into columns under a header, indented under their section line. */
function table(rows: readonly string[][], header: readonly string[]): string[] {
  if (rows.length === 0) return [];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => `    ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd());
}

/** Longest wait for one identity provider in `--online` (a check, not a sign-in). */
const ONLINE_TIMEOUT_MS = 10_000;

/**
 * `check-config --online`: does each identity provider answer where the config says — OIDC
 * discovery, SAML metadata by URL — from this machine? Exit 1 when one does not (Gatehouse would
 * still start, but nobody could sign in with that provider).
 */
export async function checkOnline(configPath: string, out: (line: string) => void = printLine): Promise<number> {
  const { config } = compileConfig(loadConfigFile(configPath));
  let failed = 0;
  for (const p of config.identityProviders) {
    const url = p.type === 'oidc' ? `${p.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration` : p.metadataUrl;
    if (url === undefined) {
      out(`  online:       ${p.id}: nothing to fetch (metadata from a file or entry_point)`);
      continue;
    }
    const result = await probe(url, Math.min(ONLINE_TIMEOUT_MS, p.type === 'oidc' ? p.timeoutMs : ONLINE_TIMEOUT_MS));
    if (result !== 'ok') failed++;
    out(`  online:       ${p.id}: ${result === 'ok' ? 'ok' : `FAILED (${result})`} ${url}`);
  }
  return failed === 0 ? 0 : 1;
}

async function probe(url: string, timeoutMs: number): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    await res.body?.cancel();
    return res.ok ? 'ok' : `HTTP ${res.status}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return cause ?? ((err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message);
  }
}
