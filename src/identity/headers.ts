// The verified identity as upstream request headers, planned once per route at config load:
// which names to send (global identity_headers with the route's overrides, "" = not sent), which
// groups (all, or only those the route's policy mentions), the roles map, the signed assertion and
// the access token. Worked out once per identity and route (memo.ts); the assertion is kept until
// it is due for renewal. A header set larger than max_header_bytes is refused, never truncated.
// Client copies of all these names were already removed by proxy/headers.ts.
import type { RouteConfig } from '../config/types.ts';
import { GatehouseError } from '../errors.ts';
import type { Identity } from './identity.ts';
import type { AssertionSigner } from './assertion.ts';
import { IdentityMemo } from './memo.ts';
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
  /**
   * Headers for this identity on this route (lower-case names); a promise only while its assertion
   * is first signed. Rejects (never throws) with GH_HEADERS_TOO_LARGE.
   */
  build(identity: Identity, accessToken: string | undefined): Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>;
}

export interface HeaderPlanOptions {
  readonly route: RouteConfig;
  /** Every group the route's policy mentions (its CompiledPolicy); identity/ does not import policy/. */
  readonly policy: { readonly groups: ReadonlySet<string> };
  readonly signer: AssertionSigner | undefined;
  /** Identities remembered by content (memo.ts); default IDENTITY_MEMO_MAX. */
  readonly memoMax?: number;
}

/** The headers with the assertion, kept until `renewAt`. */
interface Signed {
  readonly headers: Readonly<Record<string, string>>;
  readonly bytes: number;
  readonly renewAt: number;
}

/** What one identity sends on one route, worked out once (memo.ts). */
interface Planned {
  /** Without the assertion and the access token. */
  readonly headers: Readonly<Record<string, string>>;
  readonly bytes: number;
  readonly groups: readonly string[];
  signed: Signed | undefined;
  /** A signature under way (one at a time per identity and route). */
  signing: Promise<Signed> | undefined;
}

export function createHeaderPlan({ route, policy, signer, memoMax }: HeaderPlanOptions): HeaderPlan {
  const n = route.identityHeaders;
  const lower = (h: string) => h.toLowerCase();
  const audience = route.upstream.origin;
  const roles = route.roles ? new Map(Object.entries(route.roles)) : undefined;
  const groupsFor = (id: Identity): readonly string[] =>
    route.sendGroups === 'policy' ? id.groups.filter((g) => policy.groups.has(g)) : id.groups;
  const assertionSigner = route.assertion && n.assertion ? signer : undefined;
  const assertionName = lower(n.assertion);
  const tokenName = lower(n.accessToken);
  // Per identity (by object, then by content, bounded): the headers, and the assertion until renewal.
  const memo = new IdentityMemo<Planned>(memoMax);

  const plan = (id: Identity): Planned => {
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
    return { headers, bytes, groups, signed: undefined, signing: undefined };
  };

  const sign = async (signer: AssertionSigner, p: Planned, id: Identity): Promise<Signed> => {
    try {
      const a = await signer.sign(id, audience, p.groups);
      const s: Signed = {
        headers: { ...p.headers, [assertionName]: a.token },
        bytes: p.bytes + n.assertion.length + a.token.length + 4,
        renewAt: a.renewAt,
      };
      p.signed = s;
      return s;
    } finally {
      p.signing = undefined;
    }
  };

  /** The headers with a valid assertion: the kept one, renewed in the background once due (it is still valid then). */
  const signed = (signer: AssertionSigner, p: Planned, id: Identity): Signed | Promise<Signed> => {
    const s = p.signed;
    if (s === undefined) return (p.signing ??= sign(signer, p, id));
    if (signer.now() >= s.renewAt && p.signing === undefined) {
      p.signing = sign(signer, p, id);
      // A failed renewal is tried again by the next request; the kept token serves this one.
      p.signing.catch(() => {});
    }
    return s;
  };

  /** The headers with `s`'s assertion (if any) and the access token, checked against max_header_bytes. */
  const finish = (p: Planned, s: Signed | undefined, id: Identity, accessToken: string | undefined): Readonly<Record<string, string>> => {
    let out = s ? s.headers : p.headers;
    let bytes = s ? s.bytes : p.bytes;
    if (route.passAccessToken && accessToken) {
      const v = tokenName === 'authorization' ? `Bearer ${accessToken}` : accessToken;
      out = { ...out, [tokenName]: v };
      bytes += n.accessToken.length + v.length + 4;
    }
    if (bytes > route.maxHeaderBytes) {
      throw new GatehouseError(
        'GH_HEADERS_TOO_LARGE',
        `Your identity (${id.groups.length} groups) does not fit in the ${route.maxHeaderBytes} bytes of headers ${route.name} accepts. An administrator can set send_groups: policy or raise max_header_bytes for this route.`,
      );
    }
    return out;
  };

  return {
    // The common request finds everything made (memo, kept assertion) and gets no promise.
    build(id, accessToken) {
      try {
        const p = memo.get(id, plan);
        const s = assertionSigner ? signed(assertionSigner, p, id) : undefined;
        if (s instanceof Promise) return s.then((done) => finish(p, done, id, accessToken));
        return finish(p, s, id, accessToken);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}
