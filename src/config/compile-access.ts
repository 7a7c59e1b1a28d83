// allow / deny / rules: the config's snake_case shapes → the camelCase ones RouteConfig carries, so
// policy/ reads typed config and never the schema. Only the keys written are copied (in the
// schema's order): `check-config` lists a route's allow as written.
import type { RawAllow, RawDeny, RawRule } from './schema.ts';
import type { AllowCondition, DenyCondition, RouteRule } from './types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function compileAllow(a: RawAllow): AllowCondition {
  const out: Mutable<AllowCondition> = {};
  if (a.public !== undefined) out.public = a.public;
  return Object.assign(out, compileDeny(a));
}

export function compileDeny(d: RawDeny): DenyCondition {
  const out: Mutable<DenyCondition> = {};
  if (d.authenticated !== undefined) out.authenticated = d.authenticated;
  if (d.groups !== undefined) out.groups = d.groups;
  if (d.users !== undefined) out.users = d.users;
  if (d.emails !== undefined) out.emails = d.emails;
  if (d.email_domains !== undefined) out.emailDomains = d.email_domains;
  return out;
}

export function compileRule(r: RawRule): RouteRule {
  return {
    path: r.path,
    methods: r.methods,
    public: r.public === true,
    allow: r.allow ? compileAllow(r.allow) : undefined,
    deny: r.deny ? compileDeny(r.deny) : undefined,
  };
}
