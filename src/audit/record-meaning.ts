// What an audit record means, decided once for both formats: was a request let through, did it
// succeed, what kind of event an action is, and who observed it. record-ecs.ts and record-ocsf.ts
// only spell these answers in their schema's words, so the two formats can never disagree.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { KEYED_ALG } from './chain.ts';
import type { AuthAction, AuthFacts, RequestFacts, Stamp } from './facts.ts';

/** The schema versions the records declare and are validated against (test/audit/schema-conformance). */
export const ECS_VERSION = '9.4.0';
export const OCSF_VERSION = '1.6.0';

/** The version of this Gatehouse (package.json ships next to src/ in every install and image). */
function productVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Who wrote the record: the same on every record of this process. */
export const OBSERVER = { hostname: hostname(), product: 'Gatehouse', vendor: 'Gatehouse', version: productVersion() } as const;

let configHash: { readonly hash: string } | undefined;

/**
 * The hash of the config in force (Config.hash, computed at load): set at start and on every
 * reload, before the config_reloaded record; every record written after carries it.
 */
export function setConfigHash(hash: string | undefined): void {
  configHash = hash === undefined ? undefined : { hash };
}

/** `{ hash }` of the config in force (one shared object), or undefined before one was set (tools, tests). */
export function configFields(): { readonly hash: string } | undefined {
  return configHash;
}

/** A document id a SIEM can deduplicate on: unique per record, the same on every re-delivery (DESIGN.md: `<boot_id>:<sequence>`). */
export function eventId(s: Stamp): string {
  return `${s.bootId}:${s.sequence}`;
}

/**
 * Was the request let through to the upstream? Refused requests (bad path, bad bearer, a refused
 * callback, a policy 403, a redirect to sign-in) were not, whatever route they named. Without the
 * fact itself, derived: policy let it through and nothing but the upstream failed it.
 */
export function wasAllowed(f: RequestFacts): boolean {
  if (f.proxied !== undefined) return f.proxied;
  if (f.decision !== 'allow' && f.decision !== 'public') return false;
  return f.errorCode === undefined || isUpstreamFailure(f);
}

export function isUpstreamFailure(f: RequestFacts): boolean {
  return f.errorCode?.startsWith('GH_UPSTREAM_') ?? false;
}

/** The request failed: refused, errored, or answered with an error status. */
export function requestFailed(f: RequestFacts): boolean {
  return f.status >= 400 || !wasAllowed(f);
}

/** What kind of thing an auth action is: it picks ECS categories and the OCSF class. */
export type ActionKind =
  | 'logon'
  | 'logoff'
  | 'session_end'
  | 'configuration'
  | 'admin'
  | 'refused_requests'
  | 'stopped'
  | 'account'
  | 'group';

export function actionKind(a: AuthAction): ActionKind {
  switch (a) {
    case 'login_started':
    case 'login_succeeded':
    case 'login_failed':
    case 'bearer_rejected':
      return 'logon';
    case 'logout':
      return 'logoff';
    case 'session_expired':
    case 'session_revoked':
      return 'session_end';
    case 'config_reloaded':
    case 'config_reload_failed':
      return 'configuration';
    case 'admin_api':
      return 'admin';
    case 'requests_refused':
      return 'refused_requests';
    case 'audit_stopped':
      return 'stopped';
    case 'user_created':
    case 'user_updated':
    case 'user_deactivated':
    case 'user_reactivated':
    case 'user_deleted':
    case 'security_event':
      return 'account';
    case 'group_created':
    case 'group_updated':
    case 'group_deleted':
    case 'group_member_added':
    case 'group_member_removed':
      return 'group';
  }
}

/** A started sign-in has no outcome yet: neither a success nor a failure. */
export function authOutcome(f: AuthFacts): 'success' | 'failure' | 'unknown' {
  return f.action === 'login_started' ? 'unknown' : f.outcome;
}

/** 'POST /sessions/revoke' → method and path of an admin call (the facts carry them as one string). */
export function adminCall(f: AuthFacts): { method: string | undefined; path: string | undefined } {
  const text = f.outcome === 'success' ? f.reason : f.message;
  const m = /^([A-Z]+) (\S+)/.exec(text ?? '');
  return { method: m?.[1], path: m?.[2] };
}

/** The chain links (chain.ts fills the hashes); keys in sorted order. */
export function chainFields(s: Stamp, prev: string | undefined): Record<string, unknown> {
  return { alg: s.keyed ? KEYED_ALG : undefined, hash: '', prev_hash: prev };
}

/** ECS event.type (besides the kind's "user"/"group") and the OCSF activity of a directory change. */
export const IAM_ACTIVITY: Readonly<Record<string, { readonly ecs: string; readonly ocsf: number }>> = {
  // Account Change (3001): Create 1, Enable 2, Disable 5, Delete 6, Other 99.
  user_created: { ecs: 'creation', ocsf: 1 },
  user_updated: { ecs: 'change', ocsf: 99 },
  user_deactivated: { ecs: 'change', ocsf: 5 },
  user_reactivated: { ecs: 'change', ocsf: 2 },
  user_deleted: { ecs: 'deletion', ocsf: 6 },
  // A Shared Signals event (session-revoked, credential-change, account-*, or a refused SET): Other.
  security_event: { ecs: 'change', ocsf: 99 },
  // Group Management (3006): Add User 3, Remove User 4, Delete 5, Create 6, Other 99.
  group_created: { ecs: 'creation', ocsf: 6 },
  group_updated: { ecs: 'change', ocsf: 99 },
  group_deleted: { ecs: 'deletion', ocsf: 5 },
  group_member_added: { ecs: 'change', ocsf: 3 },
  group_member_removed: { ecs: 'change', ocsf: 4 },
};
