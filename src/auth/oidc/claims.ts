// Map ID token / userinfo claims to a Gatehouse identity per `claims:`. Claim names may be dotted
// paths into nested objects ("realm_access.roles" for Keycloak); groups are a list, and a single
// string is one group — never split, or a group named "labelers,ml-admins" would grant ml-admins
// (unless the IdP's split_group_values_on says it packs several into one string).
import type { OidcProviderConfig } from '../../config/types.ts';

export interface MappedIdentity {
  readonly user: string | undefined;
  readonly email: string | undefined;
  readonly name: string | undefined;
  readonly groups: string[] | undefined;
}

export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (path in claims) return claims[path];
  let v: unknown = claims;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function asString(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

export function asGroups(v: unknown, splitOn?: string): string[] | undefined {
  const values = Array.isArray(v) ? v : typeof v === 'string' ? [v] : undefined;
  if (!values) return undefined;
  const groups = values.map(asString).filter((g): g is string => g !== undefined);
  return splitOn === undefined
    ? groups
    : groups
        .flatMap((g) => g.split(splitOn))
        .map((g) => g.trim())
        .filter(Boolean);
}

/**
 * An e-mail the IdP itself marks unverified (`email_verified: false`) is not used: not as the
 * e-mail (policy `emails`/`email_domains`) and not as the user name. Anyone can type an address
 * into a self-service IdP account. (Absent `email_verified` is trusted, as most IdPs omit it.)
 */
export function mapClaims(
  claims: Readonly<Record<string, unknown>>,
  mapping: OidcProviderConfig['claims'],
  splitGroupsOn?: string,
): MappedIdentity {
  const unverified = claims.email_verified === false || claims.email_verified === 'false';
  const usable = (name: string) => !(unverified && (name === 'email' || name === mapping.email));
  return {
    user: usable(mapping.user) ? asString(claimAt(claims, mapping.user)) : undefined,
    email: usable(mapping.email) ? asString(claimAt(claims, mapping.email)) : undefined,
    name: asString(claimAt(claims, mapping.name)),
    groups: asGroups(claimAt(claims, mapping.groups), splitGroupsOn),
  };
}
