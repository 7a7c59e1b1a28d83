// allow / deny / rules: the config's snake_case shapes → the camelCase ones RouteConfig carries, so
// policy/ reads typed config and never the schema. Only the keys written are copied (in the
// schema's order): `check-config` lists a route's allow as written.
import type { RawAllow, RawDeny, RawRule } from './schema.ts';
import { ruleIds } from './hash.ts';
import type { AllowCondition, DenyCondition, RouteRule } from './types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function compileAllow(allow: RawAllow): AllowCondition {
  const out: Mutable<AllowCondition> = {};
  if (allow.public !== undefined) out.public = allow.public;
  return Object.assign(out, compileDeny(allow));
}

export function compileDeny(deny: RawDeny): DenyCondition {
  const out: Mutable<DenyCondition> = {};
  if (deny.authenticated !== undefined) out.authenticated = deny.authenticated;
  if (deny.groups !== undefined) out.groups = deny.groups;
  if (deny.users !== undefined) out.users = deny.users;
  if (deny.emails !== undefined) out.emails = deny.emails;
  if (deny.email_domains !== undefined) out.emailDomains = deny.email_domains;
  return out;
}

/** A route's rules, each with its stable id (config/hash.ts ruleIds). */
export function compileRules(route: string, rules: readonly RawRule[]): RouteRule[] {
  const ids = ruleIds(route, rules);
  return rules.map((r, i) => compileRule(r, ids[i]!));
}

/** `id`: the rule's stable id (config/hash.ts ruleIds). */
export function compileRule(rule: RawRule, id: string): RouteRule {
  return {
    id,
    path: rule.path,
    methods: rule.methods,
    public: rule.public === true,
    allow: rule.allow ? compileAllow(rule.allow) : undefined,
    deny: rule.deny ? compileDeny(rule.deny) : undefined,
  };
}
