// `check-config --explain user=alice groups=ml-admins GET https://mlflow.corp.example/api/x`:
// which route and rule decide a request, and why — policy debugging without a browser. Uses the
// same normalisation, routing and policy code as the proxy; no network.
import type { Config } from '../config/types.ts';
import { compilePolicy } from '../policy/compile.ts';
import type { Identity } from '../identity/identity.ts';
import { evaluateReadings } from '../policy/evaluate.ts';
import { normalizePath, splitTarget } from '../uri/normalize.ts';
import { policyReadings } from '../route/canonical.ts';
import { createRouteTable } from '../route/table.ts';

export const EXPLAIN_USAGE = 'check-config --explain [user=NAME] [email=ADDR] [groups=a,b] [idp=ID] METHOD URL';

const IDENTITY_FIELDS = new Set(['user', 'email', 'groups', 'idp']);

export interface ExplainRequest {
  readonly fields: ReadonlyMap<string, string>;
  readonly method: string;
  readonly url: string;
}

/** The explain arguments, or what is wrong with them (the CLI exits 2 with it). */
export function parseExplainArgs(args: readonly string[]): ExplainRequest | string {
  const fields = new Map<string, string>();
  const rest: string[] = [];
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0 && !a.includes('://') && !a.startsWith('/')) {
      const key = a.slice(0, eq);
      if (!IDENTITY_FIELDS.has(key)) return `unknown identity attribute "${key}=" (use user=, email=, groups=, idp=)`;
      fields.set(key, a.slice(eq + 1));
    } else rest.push(a);
  }
  if (rest.length === 0) return 'missing METHOD and URL';
  if (rest.length === 1) return /^[A-Za-z]+$/.test(rest[0] ?? '') ? 'missing URL' : 'missing METHOD';
  if (rest.length > 2) return `unexpected argument "${rest[2]}"`;
  const [method = '', url = ''] = rest;
  return { fields, method: method.toUpperCase(), url };
}

/** Any identity attribute makes a signed-in identity: groups=a alone must not explain an anonymous request. */
function identityOf(fields: ReadonlyMap<string, string>, config: Config): Identity | undefined {
  if (![...fields.keys()].some((k) => IDENTITY_FIELDS.has(k))) return undefined;
  const email = fields.get('email') ?? (fields.get('user')?.includes('@') ? fields.get('user') : undefined);
  return {
    user: fields.get('user') ?? email ?? '(unnamed user)',
    email,
    groups: (fields.get('groups') ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
    idp: fields.get('idp') ?? config.identityProviders[0]?.id ?? '-',
  };
}

export function explain(config: Config, args: readonly string[]): string[] {
  const request = parseExplainArgs(args);
  if (typeof request === 'string') return [`${request}; usage: ${EXPLAIN_USAGE}`];
  const { method } = request;
  const url = URL.canParse(request.url) ? new URL(request.url) : new URL(request.url, config.server.publicUrl);
  const identity = identityOf(request.fields, config);
  const who = identity ? `${identity.user} (groups: ${identity.groups.join(', ') || 'none'})` : 'anonymous';
  const lines = [`request:  ${method} ${url.href}`, `identity: ${who}`];

  const normalised = normalizePath(splitTarget(url.href.slice(url.origin.length)).path);
  if (!normalised.ok) return [...lines, `result:   400 GH_BAD_PATH (${normalised.reason})`];
  const readings = policyReadings(normalised.path);
  const route = createRouteTable(config.routes).matchReadings(url.hostname, readings);
  if (route === 'ambiguous')
    return [...lines, `path:     ${normalised.path}`, 'result:   400 GH_BAD_PATH (its spellings belong to different routes)'];
  if (!route) return [...lines, `path:     ${normalised.path}`, 'result:   404 GH_NO_ROUTE (no route matches this host and path)'];
  lines.push(
    `path:     ${normalised.path}`,
    `route:    ${route.name} (${route.host ?? '*'}${route.path} -> ${route.upstream.origin}${route.upstream.basePath})`,
  );
  if (identity && route.idps && !route.idps.includes(identity.idp)) {
    lines.push(`note:     idp ${identity.idp} may not sign in to this route (idps: ${route.idps.join(', ')}): treated as anonymous`);
  }
  const effective = identity && (!route.idps || route.idps.includes(identity.idp)) ? identity : undefined;
  if (normalised.encodedEscape && !route.allowEncodedEscapes) return [...lines, 'result:   400 GH_BAD_PATH (an escape survives decoding)'];
  const d = evaluateReadings(compilePolicy(route), effective, method, readings);
  const rule =
    d.rule === undefined
      ? 'route allow/deny (no rule matched)'
      : `rules[${d.rule}] (${route.rules[d.rule]!.path}${route.rules[d.rule]!.methods ? ` ${route.rules[d.rule]!.methods!.join(',')}` : ''})`;
  lines.push(`decided:  ${rule}`);
  const outcome = d.allow
    ? 'ALLOW'
    : d.reason === 'user-unauthenticated'
      ? 'SIGN-IN REQUIRED (302 for browsers, 401 for API clients)'
      : 'DENY (403)';
  lines.push(
    `result:   ${outcome} — reason ${d.reason}${d.grantingGroups.length ? `; would be allowed for groups: ${d.grantingGroups.join(', ')}` : ''}`,
  );
  return lines;
}
