// The verified identity as upstream request headers, planned once per route at config load:
// which names to send (global identity_headers with the route's overrides, "" = not sent), which
// groups (all, or only those the route's policy mentions), the roles map, the signed assertion and
// the access token. A header set larger than max_header_bytes is refused, never truncated.
// Client copies of all these names were already removed by proxy/headers.ts.
import type { RouteConfig } from '../config/types.ts';
import { GatehouseError } from '../errors.ts';
import type { Identity } from './identity.ts';
import type { AssertionSigner } from './assertion.ts';
import { safeUsername } from './username.ts';

/**
 * A header-safe rendering of a claim value: control characters removed, non-ASCII
 * percent-encoded as UTF-8 (RFC 3986), so no IdP-supplied value can split or corrupt a header.
 */
export function headerValue(v: string): string {
  const clean = v.replace(/[\u0000-\u001f\u007f]/g, '');
  return /^[\x20-\x7e]*$/.test(clean) ? clean : clean.replace(/[^\x20-\x7e]+/g, (s) => encodeURIComponent(s));
}

/** Comma-separated; a comma inside a value is encoded so the list stays parseable. */
function list(values: readonly string[]): string {
  return values.map((g) => headerValue(g).replace(/,/g, '%2C')).join(',');
}

export interface HeaderPlan {
  /** Headers for this identity on this route (lower-case names). Throws GH_HEADERS_TOO_LARGE. */
  build(identity: Identity, accessToken: string | undefined): Promise<Readonly<Record<string, string>>>;
}

export interface HeaderPlanOptions {
  readonly route: RouteConfig;
  /** Every group the route's policy mentions (its CompiledPolicy); identity/ does not import policy/. */
  readonly policy: { readonly groups: ReadonlySet<string> };
  readonly signer: AssertionSigner | undefined;
}

export function createHeaderPlan({ route, policy, signer }: HeaderPlanOptions): HeaderPlan {
  const n = route.identityHeaders;
  const lower = (h: string) => h.toLowerCase();
  const audience = route.upstream.origin;
  const roles = route.roles ? new Map(Object.entries(route.roles)) : undefined;
  const groupsFor = (id: Identity): readonly string[] =>
    route.sendGroups === 'policy' ? id.groups.filter((g) => policy.groups.has(g)) : id.groups;
  // Session records are reused across requests while cached, so the static part is built once.
  const memo = new WeakMap<Identity, { headers: Record<string, string>; bytes: number; groups: readonly string[] }>();

  const staticPart = (id: Identity) => {
    let m = memo.get(id);
    if (m) return m;
    const headers: Record<string, string> = {};
    const groups = groupsFor(id);
    if (n.user) headers[lower(n.user)] = headerValue(id.user);
    if (n.email && id.email) headers[lower(n.email)] = headerValue(id.email);
    if (n.name && id.name) headers[lower(n.name)] = headerValue(id.name);
    if (n.preferredUsername) headers[lower(n.preferredUsername)] = headerValue(id.user);
    if (n.username) {
      const local = safeUsername(id[route.username.from] ?? '', route.username.maxLength);
      if (local) headers[lower(n.username)] = local;
    }
    if (n.groups) headers[lower(n.groups)] = list(groups);
    if (n.idp) headers[lower(n.idp)] = headerValue(id.idp);
    if (n.roles && roles) {
      const r = [...new Set(id.groups.map((g) => roles.get(g)).filter((x): x is string => x !== undefined))];
      if (r.length > 0) headers[lower(n.roles)] = list(r);
    }
    let bytes = 0;
    for (const [k, v] of Object.entries(headers)) bytes += k.length + v.length + 4;
    m = { headers, bytes, groups };
    memo.set(id, m);
    return m;
  };

  return {
    async build(id, accessToken) {
      const s = staticPart(id);
      let bytes = s.bytes;
      let out: Record<string, string> = s.headers;
      if ((route.assertion && n.assertion && signer) || (route.passAccessToken && accessToken)) {
        out = { ...s.headers };
        if (route.assertion && n.assertion && signer) {
          const jwt = await signer.assertionFor(id, audience, s.groups);
          out[lower(n.assertion)] = jwt;
          bytes += n.assertion.length + jwt.length + 4;
        }
        if (route.passAccessToken && accessToken) {
          const v = lower(n.accessToken) === 'authorization' ? `Bearer ${accessToken}` : accessToken;
          out[lower(n.accessToken)] = v;
          bytes += n.accessToken.length + v.length + 4;
        }
      }
      if (bytes > route.maxHeaderBytes) {
        throw new GatehouseError(
          'GH_HEADERS_TOO_LARGE',
          `Your identity (${id.groups.length} groups) does not fit in the ${route.maxHeaderBytes} bytes of headers ${route.name} accepts. An administrator can set send_groups: policy or raise max_header_bytes for this route.`,
        );
      }
      return out;
    },
  };
}
