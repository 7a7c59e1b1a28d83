// Compile a route's allow / deny / rules once, at config load, into Sets and RegExps, so that a
// decision per request is a few lookups. Pure: no I/O, types only from config.
import type { AllowCondition, DenyCondition, RouteRule } from '../config/types.ts';
import { foldCase, policyPath } from '../route/canonical.ts';

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
  readonly allow?: AllowCondition | undefined;
  readonly deny?: DenyCondition | undefined;
  readonly rules?: readonly RouteRule[] | undefined;
  readonly caseInsensitivePaths?: boolean | undefined;
}

export function compileCondition(c: AllowCondition | DenyCondition): CompiledCondition {
  return {
    public: 'public' in c ? c.public === true : false,
    authenticated: c.authenticated === true,
    users: new Set(c.users ?? []),
    emails: new Set((c.emails ?? []).map((e) => e.toLowerCase())),
    domains: new Set((c.emailDomains ?? []).map((d) => d.toLowerCase().replace(/^@/, ''))),
    groups: new Set(c.groups ?? []),
  };
}

/**
 * A rule or api_paths pattern → matcher on policy paths (route/canonical.ts). Without "*" it is a
 * prefix on whole segments ("/api" matches "/api" and "/api/x", not "/apix"); "*" matches within
 * one segment, "**" across segments — a "**" segment also matches no segment at all ("/a/**\/b" ~
 * "/a/b", as Spring's AntPathMatcher reads it) and a trailing "/**" the bare prefix ("/api/**" ~
 * "/api"). A trailing slash on the path does not matter (Express and Spring serve "/x/" as "/x").
 * The pattern is canonicalised like the paths it is matched against.
 */
export function compilePathPattern(pattern: string, caseInsensitive = false): (path: string) => boolean {
  const canonical = policyPath(pattern);
  const p = caseInsensitive ? foldCase(canonical) : canonical;
  if (!p.includes('*')) {
    const prefix = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
    if (prefix === '/') return () => true;
    return (path) => path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47);
  }
  const glob = compileGlob(p);
  const bare = p.length > 3 && p.endsWith('/**') ? p.slice(0, -3) : undefined;
  const bareMatch = bare === undefined ? () => false : bare.includes('*') ? compileGlob(bare) : (path: string) => path === bare;
  const matches = (path: string) => bareMatch(path) || glob(path);
  return (path) => matches(path) || (path.length > 1 && path.endsWith('/') && matches(path.slice(0, -1)));
}

const LITERAL = 0;
const STAR = 1; // any run without "/"
const GLOBSTAR = 2; // any run

/**
 * Glob matching by simulating the pattern's automaton over the path: O(path × pattern) with no
 * backtracking, whatever the input (a RegExp with several ".*" can take seconds on a crafted
 * 8 KB path).
 */
function compileGlob(pattern: string): (path: string) => boolean {
  const kinds: number[] = [];
  const chars: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '*') {
      const double = pattern[i + 1] === '*';
      if (double) i++;
      kinds.push(double ? GLOBSTAR : STAR);
      chars.push(0);
    } else {
      kinds.push(LITERAL);
      chars.push(pattern.charCodeAt(i));
    }
  }
  const m = kinds.length;
  return (path) => {
    let active = new Uint8Array(m + 1);
    let next = new Uint8Array(m + 1);
    active[0] = 1;
    close(active);
    for (let j = 0; j < path.length; j++) {
      const c = path.charCodeAt(j);
      next.fill(0);
      let any = false;
      for (let i = 0; i < m; i++) {
        if (active[i] === 0) continue;
        const k = kinds[i];
        if (k === LITERAL) {
          if (chars[i] === c) {
            next[i + 1] = 1;
            any = true;
          }
        } else if (k === GLOBSTAR || c !== 47 /* / */) {
          next[i] = 1;
          any = true;
        }
      }
      if (!any) return false;
      close(next);
      [active, next] = [next, active];
    }
    return active[m] === 1;
  };

  // A wildcard may match nothing: whoever is before it is also past it. A "**" that is a whole
  // segment ("/**/") may stand for no segment at all: whoever is before its first "/" is also
  // before its second.
  function close(states: Uint8Array): void {
    for (let i = 0; i < m; i++) {
      if (states[i] !== 1) continue;
      if (kinds[i] !== LITERAL) states[i + 1] = 1;
      else if (chars[i] === 47 && kinds[i + 1] === GLOBSTAR && kinds[i + 2] === LITERAL && chars[i + 2] === 47) states[i + 2] = 1;
    }
  }
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
      methods: r.methods ? methodSet(r.methods) : undefined,
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

/** A rule for GET also covers HEAD: every server answers HEAD with GET's handler (RFC 9110 §9.3.2). */
function methodSet(methods: readonly string[]): ReadonlySet<string> {
  const set = new Set(methods);
  if (set.has('GET')) set.add('HEAD');
  return set;
}
