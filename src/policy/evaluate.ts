// The policy decision: pure, no I/O, no allocation beyond the answer. First matching rule decides
// (its allow defaults to the route's); otherwise the route's allow; deny beats allow everywhere;
// no allow = nobody. The answer explains itself with stable reason codes.
import { foldCase } from '../route/canonical.ts';
import type { CompiledCondition, CompiledPolicy } from './compile.ts';
import type { Identity } from '../identity/identity.ts';
import type { Reason } from './reasons.ts';

export type { Reason } from './reasons.ts';

export interface PolicyDecision {
  readonly allow: boolean;
  readonly reason: Reason;
  /** Index of the deciding rule, or undefined when the route's own allow/deny decided. */
  readonly rule: number | undefined;
  /** Groups that would have granted access (for the 403 page); never anyone's data. */
  readonly grantingGroups: readonly string[];
}

const NONE: readonly string[] = [];

function matches(c: CompiledCondition, id: Identity): Reason | undefined {
  if (c.authenticated) return 'authenticated-ok';
  if (c.users.size > 0 && c.users.has(id.user)) return 'users-ok';
  const email = id.email?.toLowerCase();
  if (email !== undefined) {
    if (c.emails.size > 0 && c.emails.has(email)) return 'emails-ok';
    const at = email.lastIndexOf('@');
    if (at > 0 && c.domains.size > 0 && c.domains.has(email.slice(at + 1))) return 'email-domain-ok';
  }
  if (c.groups.size > 0) for (const g of id.groups) if (c.groups.has(g)) return 'groups-ok';
  return undefined;
}

function decide(
  allow: CompiledCondition | undefined,
  deny: CompiledCondition | undefined,
  id: Identity | undefined,
  rule: number | undefined,
): PolicyDecision {
  if (allow?.public) return { allow: true, reason: 'public-route', rule, grantingGroups: NONE };
  if (!id) return { allow: false, reason: 'user-unauthenticated', rule, grantingGroups: NONE };
  if (deny && matches(deny, id)) return { allow: false, reason: 'denied', rule, grantingGroups: NONE };
  if (!allow) return { allow: false, reason: 'no-allow-default-deny', rule, grantingGroups: NONE };
  const ok = matches(allow, id);
  if (ok) return { allow: true, reason: ok, rule, grantingGroups: NONE };
  return { allow: false, reason: 'groups-unauthorized', rule, grantingGroups: [...allow.groups] };
}

const PUBLIC_ALLOW: CompiledCondition = {
  public: true,
  authenticated: false,
  users: new Set(),
  emails: new Set(),
  domains: new Set(),
  groups: new Set(),
};

/**
 * The decision for every reading of the path (route/canonical.ts policyReadings, canonical first):
 * the strictest wins — sign-in needed if any reading needs it, else the first denial, else the
 * canonical reading's allow. No reading an upstream might serve gets in on a laxer rule.
 */
export function evaluateReadings(
  policy: CompiledPolicy,
  identity: Identity | undefined,
  method: string,
  readings: readonly string[],
): PolicyDecision {
  const canonical = evaluate(policy, identity, method, readings[0]!);
  if (readings.length === 1 || canonical.reason === 'user-unauthenticated') return canonical;
  let strictest = canonical;
  for (let i = 1; i < readings.length; i++) {
    const d = evaluate(policy, identity, method, readings[i]!);
    if (d.allow) {
      // A public reading does not make the request public when another reading is merely allowed.
      if (strictest.allow && strictest.reason === 'public-route' && d.reason !== 'public-route') strictest = d;
      continue;
    }
    if (d.reason === 'user-unauthenticated') return d;
    if (strictest.allow) strictest = d;
  }
  return strictest;
}

/**
 * `path` is one reading of the request path (route/canonical.ts, not case-folded: folding follows
 * the route's case_insensitive_paths); `method` upper-case.
 */
export function evaluate(policy: CompiledPolicy, identity: Identity | undefined, method: string, path: string): PolicyDecision {
  const p = policy.caseInsensitive ? foldCase(path) : path;
  for (const r of policy.rules) {
    if (r.methods && !r.methods.has(method)) continue;
    if (!r.matchPath(p)) continue;
    if (r.public) return decide(PUBLIC_ALLOW, undefined, identity, r.index);
    // The route's deny still applies inside rules; a rule's own deny adds to it.
    if (identity && policy.deny && matches(policy.deny, identity))
      return { allow: false, reason: 'denied', rule: undefined, grantingGroups: NONE };
    return decide(r.allow ?? policy.allow, r.deny, identity, r.index);
  }
  return decide(policy.allow, policy.deny, identity, undefined);
}
