// The verified identity as request headers for the upstream, with oauth2-proxy's default names so
// existing upstream set-ups work. Client copies of these (any case, "_" for "-") were already
// dropped by proxy/headers.ts. Issue #5 makes the names configurable per route, adds roles,
// group filtering and the signed assertion.
import type { Identity } from '../policy/evaluate.ts';

export const IDENTITY_HEADERS = {
  user: 'x-forwarded-user',
  email: 'x-forwarded-email',
  preferredUsername: 'x-forwarded-preferred-username',
  name: 'x-forwarded-name',
  groups: 'x-forwarded-groups',
} as const;

/**
 * A header-safe rendering of a claim value: control characters removed, non-ASCII
 * percent-encoded as UTF-8 (RFC 3986), so no IdP-supplied value can split or corrupt a header.
 */
export function headerValue(v: string): string {
  const clean = v.replace(/[\u0000-\u001f\u007f]/g, '');
  return /^[\x20-\x7e]*$/.test(clean) ? clean : clean.replace(/[^\x20-\x7e]+/g, (s) => encodeURIComponent(s));
}

// Session records are cached and reused across requests, so their headers are computed once.
const memo = new WeakMap<Identity, Readonly<Record<string, string>>>();

export function identityHeaders(identity: Identity): Readonly<Record<string, string>> {
  let out = memo.get(identity);
  if (!out) {
    out = buildHeaders(identity);
    memo.set(identity, out);
  }
  return out;
}

function buildHeaders(identity: Identity): Record<string, string> {
  const out: Record<string, string> = { [IDENTITY_HEADERS.user]: headerValue(identity.user) };
  if (identity.email) out[IDENTITY_HEADERS.email] = headerValue(identity.email);
  out[IDENTITY_HEADERS.preferredUsername] = headerValue(identity.user);
  if (identity.name) out[IDENTITY_HEADERS.name] = headerValue(identity.name);
  // Groups are comma-separated; a comma inside a group name is encoded so the list stays parseable.
  out[IDENTITY_HEADERS.groups] = identity.groups.map((g) => headerValue(g).replace(/,/g, '%2C')).join(',');
  return out;
}
