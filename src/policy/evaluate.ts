// Pure policy decision for a route: no I/O, no config reads beyond the route's own allow block.
// Issue #5 grows this into compiled rules with deny, methods and path globs; the shape of the
// answer (allow + a stable reason code) stays.
import type { RawAllow } from '../config/schema.ts';

export interface Identity {
  readonly user: string;
  readonly email?: string | undefined;
  readonly name?: string | undefined;
  readonly groups: readonly string[];
  readonly idp: string;
}

export type Reason =
  | 'public-route'
  | 'user-unauthenticated'
  | 'authenticated-ok'
  | 'groups-ok'
  | 'users-ok'
  | 'emails-ok'
  | 'email-domain-ok'
  | 'not-allowed'
  | 'no-allow-default-deny';

export interface Decision {
  readonly allow: boolean;
  readonly reason: Reason;
}

const PUBLIC: Decision = { allow: true, reason: 'public-route' };
const UNAUTHENTICATED: Decision = { allow: false, reason: 'user-unauthenticated' };
const DEFAULT_DENY: Decision = { allow: false, reason: 'no-allow-default-deny' };
const NOT_ALLOWED: Decision = { allow: false, reason: 'not-allowed' };

export function evaluate(allow: Readonly<RawAllow> | undefined, identity: Identity | undefined): Decision {
  if (allow?.public) return PUBLIC;
  if (!identity) return UNAUTHENTICATED;
  if (!allow) return DEFAULT_DENY;
  if (allow.authenticated) return { allow: true, reason: 'authenticated-ok' };
  if (allow.users?.includes(identity.user)) return { allow: true, reason: 'users-ok' };
  const email = identity.email?.toLowerCase();
  if (email !== undefined) {
    if (allow.emails?.some((e) => e.toLowerCase() === email)) return { allow: true, reason: 'emails-ok' };
    const at = email.lastIndexOf('@');
    // A value without "@" is not an address: it has no domain to match.
    if (at > 0 && allow.email_domains?.some((d) => d.toLowerCase() === email.slice(at + 1))) return { allow: true, reason: 'email-domain-ok' };
  }
  if (allow.groups?.some((g) => identity.groups.includes(g))) return { allow: true, reason: 'groups-ok' };
  return NOT_ALLOWED;
}
