// Compiling a route's allow / deny / rules: what each condition becomes (sets, lower-cased e-mail
// parts), how rule and api_paths patterns match policy paths (prefixes on whole segments, "*" and
// "**" globs, a trailing slash), which methods a rule covers, and which groups a policy mentions.
// The decisions built on these are in evaluate.test.ts.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileCondition, compilePathPattern, compilePolicy, type PolicySource } from '../../src/policy/compile.ts';

const policy = (yaml: string) => compilePolicy(parse(yaml) as PolicySource);

describe('compileCondition', () => {
  it('an empty condition grants nothing', () => {
    expect(compileCondition({})).toEqual({
      public: false,
      authenticated: false,
      users: new Set(),
      emails: new Set(),
      domains: new Set(),
      groups: new Set(),
    });
  });

  it('public only when it says public: true', () => {
    expect(compileCondition({ public: true }).public).toBe(true);
    expect(compileCondition({ public: false }).public).toBe(false);
    expect(compileCondition({ authenticated: true }).public).toBe(false);
    expect(compileCondition({ groups: ['ml-admins'] }).public).toBe(false);
  });

  it('authenticated only when it says authenticated: true', () => {
    expect(compileCondition({ authenticated: true }).authenticated).toBe(true);
    expect(compileCondition({ authenticated: false }).authenticated).toBe(false);
    expect(compileCondition({ public: true }).authenticated).toBe(false);
  });

  it('keeps users and groups as written (case matters), lower-cases e-mails and domains', () => {
    const c = compileCondition({
      users: ['Alice', 'bob'],
      groups: ['ML-Admins', 'labelers'],
      emails: ['Alice@Corp.Example', 'bob@corp.example'],
      emailDomains: ['Partner.Example', '@Corp.Example'],
    });
    expect(c).toEqual({
      public: false,
      authenticated: false,
      users: new Set(['Alice', 'bob']),
      groups: new Set(['ML-Admins', 'labelers']),
      emails: new Set(['alice@corp.example', 'bob@corp.example']),
      domains: new Set(['partner.example', 'corp.example']),
    });
  });

  it('drops only a leading "@" from a domain', () => {
    expect([...compileCondition({ emailDomains: ['@corp.example', 'corp@example', '@@corp.example'] }).domains]).toEqual([
      'corp.example',
      'corp@example',
      '@corp.example',
    ]);
  });
});

describe('compilePathPattern: prefixes', () => {
  it.each([
    // A prefix matches itself and what is below it, on whole segments.
    ['/static', '/static', true],
    ['/static', '/static/', true],
    ['/static', '/static/app.js', true],
    ['/static', '/staticfiles', false],
    ['/static', '/stati', false],
    ['/static', '/', false],
    // A trailing slash in the rule is the same prefix: it does not widen to "/" nor narrow to "/static/...".
    ['/static/', '/static', true],
    ['/static/', '/static/app.js', true],
    ['/static/', '/staticfiles', false],
    ['/static/', '/', false],
    ['/static/', '/other', false],
    ['/static/', '/s', false],
    ['/a/b/', '/a/b/c', true],
    ['/a/b/', '/a', false],
    ['/a/b/', '/a/bc', false],
    // "/" is every path.
    ['/', '/', true],
    ['/', '/anything/below', true],
    // Patterns are canonicalised like paths: ";params", trailing dots.
    ['/admin;jsessionid=1', '/admin/x', true],
    ['/admin.', '/admin', true],
  ] as const)('%s matches %s: %s', (pattern, path, expected) => {
    expect(compilePathPattern(pattern)(path)).toBe(expected);
  });

  it('case-sensitive unless asked: the pattern is folded, the caller folds the path', () => {
    expect(compilePathPattern('/Admin')('/admin')).toBe(false);
    expect(compilePathPattern('/Admin')('/Admin/x')).toBe(true);
    expect(compilePathPattern('/Admin', false)('/admin')).toBe(false);
    expect(compilePathPattern('/Admin', true)('/admin')).toBe(true);
    expect(compilePathPattern('/Admin', true)('/admin/x')).toBe(true);
    expect(compilePathPattern('/Api/**', true)('/api/v1')).toBe(true);
    expect(compilePathPattern('/Api/**', true)('/api')).toBe(true);
    expect(compilePathPattern('/Api/**')('/api/v1')).toBe(false);
  });
});

describe('compilePathPattern: globs', () => {
  it.each([
    // "*": any run within one segment, possibly empty.
    ['/p/*/x', '/p/1/x', true],
    ['/p/*/x', '/p/abc/x', true],
    ['/p/*/x', '/p//x', true],
    ['/p/*/x', '/p/1/2/x', false],
    ['/p/*/x', '/p/1/x/y', false],
    ['/p/*/x', '/p/1/xy', false],
    ['/p/*/x', '/p/1/y', false],
    ['/p/*/x', '/p/1/', false],
    ['/p/*/x', '/p/1', false],
    ['/p/*/x', '/p/', false],
    ['/p/*/x', '/q/1/x', false],
    ['/*.js', '/app.js', true],
    ['/*.js', '/a/app.js', false],
    ['/*.js', '/app.jsx', false],
    ['/a*', '/a', true],
    ['/a*', '/abc', true],
    ['/a*', '/a/b', false],
    // "**": any run, across segments.
    ['/**', '/', true],
    ['/**', '/anything/at/all', true],
    ['/**/x', '/a/b/x', true],
    ['/**/x', '//x', true],
    ['/**/x', '/ax', false],
    ['/**/x', '/a/b/xy', false],
    ['/a/**/z', '/a/b/c/z', true],
    // A "**" segment also stands for no segment at all (Spring's AntPathMatcher reads it so) ...
    ['/a/**/z', '/a/z', true],
    ['/**/x', '/x', true],
    ['/a/**/b/**/c', '/a/b/c', true],
    ['/a/**/b/**/c', '/a/x/b/c', true],
    ['/a/**/b/**/c', '/a/bc', false],
    // ... but only a whole segment: elsewhere "**" is a run of characters, and the "/" stays.
    ['/a/**x/z', '/ax/z', false],
    ['/a/**x/z', '/a/x/z', true],
    ['/a**/z', '//z', false],
    ['/a**/z', '/a/z', true],
    ['/a/**', '/az', false],
    ['/a/**/z', '/a/b/c/zz', false],
    ['/a/**.json', '/a/b/c.json', true],
    ['/a/**.json', '/a/b/c.jsonx', false],
    // A trailing "/**" also matches the bare prefix, and only that.
    ['/api/**', '/api', true],
    ['/api/**', '/api/', true],
    ['/api/**', '/api/a/b', true],
    ['/api/**', '/apix', false],
    ['/api/**', '/ap', false],
    ['/api/**', '/', false],
    ['/api/*', '/api', false],
    ['/api/*', '/api/a', true],
    ['/api/*', '/api/a/b', false],
    // ... also after a "*": the bare prefix is a glob too ("/projects/7/settings" meets
    // "/projects/*/settings/**"; it was once compared as the literal text "/projects/*/settings").
    ['/p/*/x/**', '/p/1/x', true],
    ['/p/*/x/**', '/p/*/x', true],
    ['/p/*/x/**', '/p/1/x/', true],
    ['/p/*/x/**', '/p/1/x/y/z', true],
    ['/p/*/x/**', '/p/1/2/x', false],
    ['/p/*/x/**', '/p/1/xy', false],
    ['/projects/*/settings/**', '/projects/7/settings', true],
    ['/*/**', '/a', true],
    ['/*/**', '/a/b', true],
    ['/*/**', '/', true],
    ['/p/*/x/**', '/p/1/y', false],
    ['/p/*/x/**', '/p/', false],
    // A trailing slash on the path does not escape a glob rule.
    ['/p/*/x', '/p/1/x/', true],
    ['/*.js', '/app.js/', true],
    ['/*.js', '/app.js//', false],
    ['/p/*/x', '/p/1/', false],
  ] as const)('%s matches %s: %s', (pattern, path, expected) => {
    expect(compilePathPattern(pattern)(path)).toBe(expected);
  });

  it('stays linear on an adversarial path (no backtracking)', () => {
    const match = compilePathPattern('/**a**a**a**a**a**b');
    // A backtracking matcher explores ~n^5 ways to split this; the automaton reads it once.
    expect(match(`/${'a'.repeat(20_000)}`)).toBe(false);
    expect(match(`/${'a'.repeat(20_000)}b`)).toBe(true);
  });
});

describe('compilePolicy', () => {
  it('keeps the route name, and compiles the route allow and deny', () => {
    const p = policy(`{ name: r1, allow: { groups: [a] }, deny: { users: [mallory] } }`);
    expect(p.route).toBe('r1');
    expect(p.allow).toEqual(compileCondition({ groups: ['a'] }));
    expect(p.deny).toEqual(compileCondition({ users: ['mallory'] }));
    expect(p.rules).toEqual([]);
  });

  it("no allow and no deny stay undefined (default deny is evaluate's job)", () => {
    const p = policy(`{ name: closed }`);
    expect(p.allow).toBeUndefined();
    expect(p.deny).toBeUndefined();
    expect(p.groups.size).toBe(0);
  });

  it('compiles each rule in order, with its index, path, public flag and own conditions', () => {
    const p = policy(`
name: r
rules:
  - { path: /health, public: true }
  - { path: /admin, allow: { groups: [ml-admins] }, deny: { groups: [contractors] } }
  - { path: /other, public: false }
`);
    expect(p.rules.map((r) => [r.index, r.path, r.public])).toEqual([
      [0, '/health', true],
      [1, '/admin', false],
      [2, '/other', false],
    ]);
    expect(p.rules[0]!.allow).toBeUndefined();
    expect(p.rules[0]!.deny).toBeUndefined();
    expect(p.rules[1]!.allow).toEqual(compileCondition({ groups: ['ml-admins'] }));
    expect(p.rules[1]!.deny).toEqual(compileCondition({ groups: ['contractors'] }));
    expect(p.rules[1]!.matchPath('/admin/x')).toBe(true);
    expect(p.rules[1]!.matchPath('/administrator')).toBe(false);
  });

  it('a rule for GET also covers HEAD; other methods stay as listed; no methods = any', () => {
    const p = policy(`
name: r
rules:
  - { path: /a, methods: [GET] }
  - { path: /b, methods: [POST, DELETE] }
  - { path: /c, methods: [HEAD] }
  - { path: /d }
`);
    expect(p.rules.map((r) => (r.methods ? [...r.methods].sort() : undefined))).toEqual([
      ['GET', 'HEAD'],
      ['DELETE', 'POST'],
      ['HEAD'],
      undefined,
    ]);
  });

  it('matches rules case-sensitively unless case_insensitive_paths (caseInsensitivePaths) is true', () => {
    const rules = `rules: [ { path: /Admin } ]`;
    const cs = policy(`{ name: r, ${rules} }`);
    const off = policy(`{ name: r, caseInsensitivePaths: false, ${rules} }`);
    const ci = policy(`{ name: r, caseInsensitivePaths: true, ${rules} }`);
    expect([cs.caseInsensitive, off.caseInsensitive, ci.caseInsensitive]).toEqual([false, false, true]);
    // evaluate folds the request path when caseInsensitive; the rule's pattern is folded here.
    expect(cs.rules[0]!.matchPath('/Admin')).toBe(true);
    expect(cs.rules[0]!.matchPath('/admin')).toBe(false);
    expect(ci.rules[0]!.matchPath('/admin')).toBe(true);
  });

  it('collects every group mentioned in the route and rule allow and deny, once each', () => {
    const p = policy(`
name: r
allow: { groups: [route-allow, shared] }
deny: { groups: [route-deny] }
rules:
  - { path: /a, allow: { groups: [rule-allow, shared] } }
  - { path: /b, deny: { groups: [rule-deny] } }
  - { path: /c, allow: { users: [alice] } }
`);
    expect([...p.groups].sort()).toEqual(['route-allow', 'route-deny', 'rule-allow', 'rule-deny', 'shared']);
  });
});
