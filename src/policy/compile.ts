// Compile a route's allow / deny / rules once, at config load, into Sets and RegExps, so that a
// decision per request is a few lookups. Pure: no I/O, types only from config.
import type { RawAllow, RawDeny, RawRule } from '../config/schema.ts';

export interface CompiledCondition {
  readonly public: boolean;
  readonly authenticated: boolean;
  readonly users: ReadonlySet<string>;
  /** Lower-cased. */
  readonly emails: ReadonlySet<string>;
  /** Lower-cased, without "@". */
  readonly domains: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
}

export interface CompiledRule {
  /** Position in `rules`, for explanations and the audit record. */
  readonly index: number;
  readonly path: string;
  readonly matchPath: (path: string) => boolean;
  /** Upper-case methods; undefined = any. */
  readonly methods: ReadonlySet<string> | undefined;
  readonly public: boolean;
  readonly allow: CompiledCondition | undefined;
  readonly deny: CompiledCondition | undefined;
}

export interface CompiledPolicy {
  readonly route: string;
  readonly allow: CompiledCondition | undefined;
  readonly deny: CompiledCondition | undefined;
  readonly rules: readonly CompiledRule[];
  readonly caseInsensitive: boolean;
  /** Every group the policy mentions (for send_groups: policy). */
  readonly groups: ReadonlySet<string>;
}

export interface PolicySource {
  readonly name: string;
  readonly allow?: Readonly<RawAllow> | undefined;
  readonly deny?: Readonly<RawDeny> | undefined;
  readonly rules?: readonly Readonly<RawRule>[] | undefined;
  readonly caseInsensitivePaths?: boolean | undefined;
}

export function compileCondition(c: Readonly<RawAllow> | Readonly<RawDeny>): CompiledCondition {
  return {
    public: 'public' in c ? c.public === true : false,
    authenticated: c.authenticated === true,
    users: new Set(c.users ?? []),
    emails: new Set((c.emails ?? []).map((e) => e.toLowerCase())),
    domains: new Set((c.email_domains ?? []).map((d) => d.toLowerCase().replace(/^@/, ''))),
    groups: new Set(c.groups ?? []),
  };
}

/**
 * A rule or api_paths pattern → matcher on normalised paths. Without "*" it is a prefix on whole
 * segments ("/api" matches "/api" and "/api/x", not "/apix"); "*" matches within one segment,
 * "**" across segments, and a trailing "/**" also matches the bare prefix ("/api/**" ~ "/api").
 */
export function compilePathPattern(pattern: string, caseInsensitive = false): (path: string) => boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  if (!p.includes('*')) {
    const prefix = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
    if (prefix === '/') return () => true;
    return (path) => path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47);
  }
  let src = '';
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '*' && p[i + 1] === '*') {
      const trailing = i + 2 === p.length && src.endsWith('/');
      src = trailing ? `${src.slice(0, -1)}(?:/.*)?` : `${src}.*`;
      i++;
    } else if (ch === '*') {
      src += '[^/]*';
    } else {
      src += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  const re = new RegExp(`^${src}$`);
  return (path) => re.test(path);
}

export function compilePolicy(route: PolicySource): CompiledPolicy {
  const ci = route.caseInsensitivePaths === true;
  const groups = new Set<string>();
  const note = (c: CompiledCondition | undefined) => c?.groups.forEach((g) => groups.add(g));
  const allow = route.allow ? compileCondition(route.allow) : undefined;
  const deny = route.deny ? compileCondition(route.deny) : undefined;
  note(allow);
  note(deny);
  const rules = (route.rules ?? []).map((r, index): CompiledRule => {
    const rule = {
      index,
      path: r.path,
      matchPath: compilePathPattern(r.path, ci),
      methods: r.methods ? new Set(r.methods) : undefined,
      public: r.public === true,
      allow: r.allow ? compileCondition(r.allow) : undefined,
      deny: r.deny ? compileCondition(r.deny) : undefined,
    };
    note(rule.allow);
    note(rule.deny);
    return rule;
  });
  return { route: route.name, allow, deny, rules, caseInsensitive: ci, groups };
}
