// The policy table: inline YAML-shaped policies, an identity, a method and a raw request path
// (normalised exactly as the pipeline does) → decision and reason. Includes the path-normalisation
// bypass family: every spelling of /admin must meet the /admin rule, or be refused as a bad path.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compilePathPattern, compilePolicy, type PolicySource } from '../../src/policy/compile.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { evaluate, evaluateReadings } from '../../src/policy/evaluate.ts';
import { policyPath } from '../../src/route/canonical.ts';
import { normalizePath } from '../../src/uri/normalize.ts';

const ALICE: Identity = { user: 'alice@corp.example', email: 'alice@corp.example', groups: ['ml-admins', 'data-scientists'], idp: 'corp' };
const BOB: Identity = { user: 'bob@corp.example', email: 'bob@corp.example', groups: ['labelers'], idp: 'corp' };
const CAROL: Identity = { user: 'carol', email: 'carol@partner.example', groups: [], idp: 'corp' };
const MALLORY: Identity = {
  user: 'mallory@corp.example',
  email: 'Mallory@Corp.Example',
  groups: ['ml-admins', 'contractors'],
  idp: 'corp',
};
const NOMAIL: Identity = { user: 'svc', email: 'corp.example', groups: [], idp: 'corp' };
const WHO = { alice: ALICE, bob: BOB, carol: CAROL, mallory: MALLORY, nomail: NOMAIL, anon: undefined } as const;

const MLFLOW = parse(`
name: mlflow
allow: { groups: [ml-admins, data-scientists, labelers] }
deny: { groups: [contractors] }
rules:
  - { path: /health, public: true }
  - { path: /static/**, public: true }
  - { path: /admin, allow: { groups: [ml-admins] } }
  - { path: /api/2.0/mlflow/registered-models/delete, methods: [POST, DELETE], allow: { groups: [ml-admins] } }
  - { path: "/projects/*/export", allow: { users: [bob@corp.example] } }
  - { path: /api/**, methods: [GET, HEAD], allow: { authenticated: true } }
  - { path: /reports, allow: { emailDomains: [partner.example] } }
  - { path: /private, allow: { emails: [ALICE@corp.example] }, deny: { users: [alice@corp.example] } }
`) as PolicySource;

const OPEN = parse(`{ name: open, allow: { public: true } }`) as PolicySource;
const CLOSED = parse(`{ name: closed }`) as PolicySource;
const AUTHN = parse(`{ name: authn, allow: { authenticated: true } }`) as PolicySource;
const CI = parse(
  `{ name: ci, case_insensitive_paths: true, caseInsensitivePaths: true, allow: { authenticated: true }, rules: [ { path: /admin, allow: { groups: [ml-admins] } } ] }`,
) as PolicySource;

type Row = [
  policy: PolicySource,
  who: keyof typeof WHO,
  method: string,
  rawPath: string,
  allow: boolean | 'bad-path',
  reason?: string,
  rule?: number,
];

const TABLE: Row[] = [
  // Route allow / deny / default deny.
  [OPEN, 'anon', 'GET', '/', true, 'public-route'],
  [OPEN, 'alice', 'POST', '/x', true, 'public-route'],
  [CLOSED, 'alice', 'GET', '/', false, 'no-allow-default-deny'],
  [CLOSED, 'anon', 'GET', '/', false, 'user-unauthenticated'],
  [AUTHN, 'carol', 'GET', '/x', true, 'authenticated-ok'],
  [AUTHN, 'anon', 'GET', '/x', false, 'user-unauthenticated'],
  [MLFLOW, 'alice', 'GET', '/experiments', true, 'groups-ok'],
  [MLFLOW, 'bob', 'GET', '/experiments', true, 'groups-ok'],
  [MLFLOW, 'carol', 'GET', '/experiments', false, 'groups-unauthorized'],
  [MLFLOW, 'anon', 'GET', '/experiments', false, 'user-unauthenticated'],
  [MLFLOW, 'mallory', 'GET', '/experiments', false, 'denied'],
  // Public rules, prefix on whole segments, globs.
  [MLFLOW, 'anon', 'GET', '/health', true, 'public-route', 0],
  [MLFLOW, 'anon', 'GET', '/healthz', false, 'user-unauthenticated'],
  [MLFLOW, 'anon', 'GET', '/static/js/app.js', true, 'public-route', 1],
  [MLFLOW, 'anon', 'GET', '/static', true, 'public-route', 1],
  [MLFLOW, 'anon', 'GET', '/staticfiles', false, 'user-unauthenticated'],
  // The /admin rule and the bypass family.
  [MLFLOW, 'alice', 'GET', '/admin', true, 'groups-ok', 2],
  [MLFLOW, 'alice', 'GET', '/admin/users', true, 'groups-ok', 2],
  [MLFLOW, 'bob', 'GET', '/admin', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/%61dmin', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/%61%64%6D%69%6E', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '//admin', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/./admin', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/health/../admin', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/static/%2e%2e/admin', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/public/..%2fadmin', 'bad-path'],
  [MLFLOW, 'bob', 'GET', '/public/..%5cadmin', 'bad-path'],
  [MLFLOW, 'bob', 'GET', '/admin%00', 'bad-path'],
  [MLFLOW, 'bob', 'GET', '/health/..;/admin', 'bad-path'],
  [MLFLOW, 'bob', 'GET', '/admin;x=1', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/admin;jsessionid=1/users', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/admin.', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/admin./users', false, 'groups-unauthorized', 2],
  [MLFLOW, 'bob', 'GET', '/admin/', false, 'groups-unauthorized', 2],
  // Paths are case-sensitive by default: /ADMIN is another path (the route allow applies) ...
  [MLFLOW, 'bob', 'GET', '/ADMIN', true, 'groups-ok'],
  // ... unless the route says its upstream ignores case.
  [CI, 'bob', 'GET', '/ADMIN', false, 'groups-unauthorized', 0],
  [CI, 'alice', 'GET', '/AdMiN/x', true, 'groups-ok', 0],
  // Methods on rules.
  [MLFLOW, 'bob', 'POST', '/api/2.0/mlflow/registered-models/delete', false, 'groups-unauthorized', 3],
  [MLFLOW, 'bob', 'DELETE', '/api/2.0/mlflow/registered-models/delete', false, 'groups-unauthorized', 3],
  [MLFLOW, 'alice', 'POST', '/api/2.0/mlflow/registered-models/delete', true, 'groups-ok', 3],
  [MLFLOW, 'bob', 'GET', '/api/2.0/mlflow/registered-models/delete', true, 'authenticated-ok', 5],
  [MLFLOW, 'carol', 'GET', '/api/2.0/mlflow/runs', true, 'authenticated-ok', 5],
  [MLFLOW, 'carol', 'POST', '/api/2.0/mlflow/runs', false, 'groups-unauthorized'],
  // Single-segment glob.
  [MLFLOW, 'bob', 'GET', '/projects/42/export', true, 'users-ok', 4],
  [MLFLOW, 'alice', 'GET', '/projects/42/export', false, 'groups-unauthorized', 4],
  [MLFLOW, 'bob', 'GET', '/projects/42/x/export', true, 'groups-ok'],
  // E-mail conditions: case-insensitive, domain only after "@".
  [MLFLOW, 'carol', 'GET', '/reports', true, 'email-domain-ok', 6],
  [MLFLOW, 'alice', 'GET', '/reports', false, 'groups-unauthorized', 6],
  [parse(`{ name: d, allow: { emailDomains: [corp.example] } }`), 'nomail', 'GET', '/', false, 'groups-unauthorized'],
  [parse(`{ name: d, allow: { emailDomains: ["@corp.example"] } }`), 'bob', 'GET', '/', true, 'email-domain-ok'],
  // Deny beats allow inside a rule, and the route deny applies inside rules.
  [MLFLOW, 'alice', 'GET', '/private', false, 'denied', 7],
  [MLFLOW, 'mallory', 'GET', '/admin', false, 'denied'],
  [MLFLOW, 'mallory', 'GET', '/health', true, 'public-route', 0],
];

describe('policy evaluate (table)', () => {
  // Compiled afresh for every case: a result never depends on which case ran first (and a mutation
  // run, which re-runs only the cases that executed a piece of code, sees every case that uses it).
  const policyOf = (p: PolicySource) => compilePolicy(p);

  it(`has at least 40 cases (${TABLE.length})`, () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(40);
  });

  it.each(TABLE)('%#: %s by %s %s %s → %s %s', (policy, who, method, rawPath, allow, reason, rule) => {
    const normalised = normalizePath(rawPath);
    if (allow === 'bad-path') {
      expect(normalised.ok).toBe(false);
      return;
    }
    expect(normalised.ok).toBe(true);
    if (!normalised.ok) return;
    const d = evaluate(policyOf(policy), WHO[who], method, policyPath(normalised.path));
    expect({ allow: d.allow, reason: d.reason }).toEqual({ allow, reason });
    if (rule !== undefined) expect(d.rule).toBe(rule);
  });

  it('names the groups that would grant access on a deny (for the 403 page), nothing else', () => {
    const d = evaluate(policyOf(MLFLOW), BOB, 'GET', '/admin');
    expect(d.grantingGroups).toEqual(['ml-admins']);
    expect(JSON.stringify(d)).not.toContain('bob');
  });

  it('collects every group the policy mentions (send_groups: policy)', () => {
    expect([...policyOf(MLFLOW).groups].sort()).toEqual(['contractors', 'data-scientists', 'labelers', 'ml-admins']);
  });
});

describe('path patterns', () => {
  it.each([
    ['/api', '/api', true],
    ['/api', '/api/x', true],
    ['/api', '/apix', false],
    ['/api/', '/api', true],
    ['/api/**', '/api', true],
    ['/api/**', '/api/a/b', true],
    ['/api/**', '/apix', false],
    ['/p/*/x', '/p/1/x', true],
    ['/p/*/x', '/p/1/2/x', false],
    ['/p/*/x', '/p//x', true],
    ['/a.b', '/aXb', false],
    ['/**', '/anything/at/all', true],
    ['/', '/x', true],
  ] as const)('%s matches %s: %s', (pattern, path, expected) => {
    expect(compilePathPattern(pattern)(path)).toBe(expected);
  });

  it('policyPath strips ;params and trailing dots and spaces, and never folds case itself', () => {
    expect(policyPath('/admin;x=1/y;z')).toBe('/admin/y');
    expect(policyPath('/Admin./x..')).toBe('/Admin/x');
    expect(policyPath('/Admin')).toBe('/Admin');
    expect(policyPath('/a/b.c/d')).toBe('/a/b.c/d');
  });
});

// Whole decisions (allow, reason, rule, grantingGroups), one condition kind at a time, so that a
// condition that silently grants everybody, or nobody, is noticed.
describe('policy evaluate: each condition on its own', () => {
  const decide = (yaml: string, who: Identity | undefined, method = 'GET', path = '/') =>
    evaluate(compilePolicy(parse(yaml) as PolicySource), who, method, path);
  const id = (user: string, email: string | undefined, groups: string[] = []): Identity => ({ user, email, groups, idp: 'corp' });
  const allowed = (reason: string, rule?: number) => ({ allow: true, reason, rule, grantingGroups: [] });
  const refused = (reason: string, rule?: number, grantingGroups: string[] = []) => ({ allow: false, reason, rule, grantingGroups });

  it('allow: { public: false } is not public: anonymous users must sign in, signed-in ones get nothing from it', () => {
    expect(decide(`{ name: r, allow: { public: false } }`, undefined)).toEqual(refused('user-unauthenticated'));
    expect(decide(`{ name: r, allow: { public: false } }`, ALICE)).toEqual(refused('groups-unauthorized'));
    expect(decide(`{ name: r, allow: { public: false, groups: [ml-admins] } }`, ALICE)).toEqual(allowed('groups-ok'));
    expect(decide(`{ name: r, allow: { public: false, groups: [ml-admins] } }`, undefined)).toEqual(refused('user-unauthenticated'));
    expect(
      decide(`{ name: r, allow: { public: true }, rules: [ { path: /x, allow: { public: false } } ] }`, undefined, 'GET', '/x'),
    ).toEqual(refused('user-unauthenticated', 0));
    expect(decide(`{ name: r, allow: { public: true }, rules: [ { path: /x, public: false } ] }`, undefined, 'GET', '/x')).toEqual(
      allowed('public-route', 0),
    );
  });

  it('a public route lets anyone in, signed in or not, and names no rule', () => {
    expect(decide(`{ name: r, allow: { public: true } }`, undefined)).toEqual(allowed('public-route'));
    expect(decide(`{ name: r, allow: { public: true } }`, BOB)).toEqual(allowed('public-route'));
  });

  it('authenticated: any signed-in user, nobody else', () => {
    expect(decide(`{ name: r, allow: { authenticated: true } }`, id('x', undefined))).toEqual(allowed('authenticated-ok'));
    expect(decide(`{ name: r, allow: { authenticated: true } }`, undefined)).toEqual(refused('user-unauthenticated'));
    expect(decide(`{ name: r, allow: { authenticated: false } }`, id('x', undefined))).toEqual(refused('groups-unauthorized'));
  });

  it('users: exactly these user values (case-sensitive), nobody else', () => {
    const yaml = `{ name: r, allow: { users: [alice@corp.example] } }`;
    expect(decide(yaml, ALICE)).toEqual(allowed('users-ok'));
    expect(decide(yaml, BOB)).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, id('Alice@corp.example', undefined))).toEqual(refused('groups-unauthorized'));
    // An e-mail equal to a listed user is not that user.
    expect(decide(yaml, id('someone-else', 'alice@corp.example'))).toEqual(refused('groups-unauthorized'));
  });

  it('emails: exactly these addresses, case-insensitive; any other address, or none, is refused', () => {
    const yaml = `{ name: r, allow: { emails: [Alice@Corp.Example] } }`;
    expect(decide(yaml, ALICE)).toEqual(allowed('emails-ok'));
    expect(decide(yaml, id('a2', 'ALICE@corp.example'))).toEqual(allowed('emails-ok'));
    expect(decide(yaml, BOB)).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, CAROL)).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, id('alice@corp.example', undefined))).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, id('x', 'alice@corp.example.evil'))).toEqual(refused('groups-unauthorized'));
  });

  it('email_domains: the part after the last "@", exactly (no subdomains), case-insensitive', () => {
    const yaml = `{ name: r, allow: { emailDomains: [Corp.Example] } }`;
    expect(decide(yaml, BOB)).toEqual(allowed('email-domain-ok'));
    expect(decide(yaml, id('m', 'Mallory@CORP.example'))).toEqual(allowed('email-domain-ok'));
    expect(decide(yaml, id('q', '"a@partner.example"@corp.example'))).toEqual(allowed('email-domain-ok'));
    expect(decide(yaml, id('q', 'a@corp.example@partner.example'))).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, CAROL)).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, id('s', 'x@sub.corp.example'))).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, id('s', 'x@evilcorp.example'))).toEqual(refused('groups-unauthorized'));
    // No local part, no "@", no e-mail at all.
    expect(decide(yaml, id('s', '@corp.example'))).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, NOMAIL)).toEqual(refused('groups-unauthorized'));
    expect(decide(yaml, id('corp.example', undefined))).toEqual(refused('groups-unauthorized'));
  });

  it('groups: any one of them; the 403 lists them', () => {
    const yaml = `{ name: r, allow: { groups: [ml-admins, data-scientists] } }`;
    expect(decide(yaml, BOB)).toEqual(refused('groups-unauthorized', undefined, ['ml-admins', 'data-scientists']));
    expect(decide(yaml, id('d', undefined, ['x', 'data-scientists']))).toEqual(allowed('groups-ok'));
    expect(decide(yaml, id('d', undefined, ['ML-Admins']))).toEqual(
      refused('groups-unauthorized', undefined, ['ml-admins', 'data-scientists']),
    );
  });

  it('an allow with no condition a user meets grants nobody, however the user looks', () => {
    const everything = id('alice@corp.example', 'alice@corp.example', ['ml-admins']);
    expect(decide(`{ name: r, allow: {} }`, everything)).toEqual(refused('groups-unauthorized'));
    expect(decide(`{ name: r, allow: { users: [], emails: [], emailDomains: [], groups: [] } }`, everything)).toEqual(
      refused('groups-unauthorized'),
    );
  });

  it('deny by users, emails, e-mail domain or group beats every allow', () => {
    const allowAll = `allow: { authenticated: true }`;
    expect(decide(`{ name: r, ${allowAll}, deny: { users: [bob@corp.example] } }`, BOB)).toEqual(refused('denied'));
    expect(decide(`{ name: r, ${allowAll}, deny: { emails: [BOB@corp.example] } }`, BOB)).toEqual(refused('denied'));
    expect(decide(`{ name: r, ${allowAll}, deny: { emailDomains: [partner.example] } }`, CAROL)).toEqual(refused('denied'));
    expect(decide(`{ name: r, ${allowAll}, deny: { groups: [contractors] } }`, MALLORY)).toEqual(refused('denied'));
    expect(decide(`{ name: r, ${allowAll}, deny: { authenticated: true } }`, ALICE)).toEqual(refused('denied'));
    // A deny that does not name the user leaves the allow alone.
    expect(decide(`{ name: r, ${allowAll}, deny: { emailDomains: [partner.example], emails: [x@corp.example] } }`, BOB)).toEqual(
      allowed('authenticated-ok'),
    );
    expect(decide(`{ name: r, ${allowAll}, deny: { groups: [contractors] } }`, ALICE)).toEqual(allowed('authenticated-ok'));
    // Deny is not "not allowed": anonymous users are asked to sign in first.
    expect(decide(`{ name: r, ${allowAll}, deny: { groups: [contractors] } }`, undefined)).toEqual(refused('user-unauthenticated'));
  });

  it('no allow at all: signed-in users are refused by default, anonymous ones asked to sign in', () => {
    expect(decide(`{ name: r }`, ALICE)).toEqual(refused('no-allow-default-deny'));
    expect(decide(`{ name: r, deny: { groups: [contractors] } }`, ALICE)).toEqual(refused('no-allow-default-deny'));
    expect(decide(`{ name: r, rules: [ { path: /x, deny: { groups: [contractors] } } ] }`, ALICE, 'GET', '/x')).toEqual(
      refused('no-allow-default-deny', 0),
    );
  });
});

describe('policy evaluate: rules', () => {
  const policy = compilePolicy(
    parse(`
name: r
allow: { groups: [staff] }
deny: { groups: [contractors] }
rules:
  - { path: /health, public: true }
  - { path: /reports, deny: { users: [bob] } }
  - { path: /admin, allow: { groups: [admins] } }
  - { path: /upload, methods: [POST], allow: { groups: [uploaders] } }
  - { path: /read, methods: [GET], allow: { groups: [readers] } }
`) as PolicySource,
  );
  const staff = (user: string, ...more: string[]): Identity => ({ user, groups: ['staff', ...more], idp: 'corp' });

  it('a rule without allow inherits the route allow, and adds its own deny', () => {
    expect(evaluate(policy, staff('alice'), 'GET', '/reports')).toEqual({ allow: true, reason: 'groups-ok', rule: 1, grantingGroups: [] });
    expect(evaluate(policy, staff('bob'), 'GET', '/reports')).toEqual({ allow: false, reason: 'denied', rule: 1, grantingGroups: [] });
    expect(evaluate(policy, { user: 'eve', groups: [], idp: 'corp' }, 'GET', '/reports')).toEqual({
      allow: false,
      reason: 'groups-unauthorized',
      rule: 1,
      grantingGroups: ['staff'],
    });
  });

  it("a rule's allow replaces the route allow", () => {
    expect(evaluate(policy, staff('alice'), 'GET', '/admin')).toEqual({
      allow: false,
      reason: 'groups-unauthorized',
      rule: 2,
      grantingGroups: ['admins'],
    });
    expect(evaluate(policy, { user: 'root', groups: ['admins'], idp: 'corp' }, 'GET', '/admin/x')).toEqual({
      allow: true,
      reason: 'groups-ok',
      rule: 2,
      grantingGroups: [],
    });
  });

  it("the route deny applies inside rules and is reported as the route's (no rule)", () => {
    expect(evaluate(policy, staff('mallory', 'admins', 'contractors'), 'GET', '/admin')).toEqual({
      allow: false,
      reason: 'denied',
      rule: undefined,
      grantingGroups: [],
    });
    expect(evaluate(policy, staff('mallory', 'contractors'), 'GET', '/reports')).toEqual({
      allow: false,
      reason: 'denied',
      rule: undefined,
      grantingGroups: [],
    });
    // ... but not inside public rules, and anonymous users are asked to sign in first.
    expect(evaluate(policy, staff('mallory', 'contractors'), 'GET', '/health')).toEqual({
      allow: true,
      reason: 'public-route',
      rule: 0,
      grantingGroups: [],
    });
    expect(evaluate(policy, undefined, 'GET', '/admin')).toEqual({
      allow: false,
      reason: 'user-unauthenticated',
      rule: 2,
      grantingGroups: [],
    });
  });

  it('a public rule is public for everyone and names itself', () => {
    expect(evaluate(policy, undefined, 'GET', '/health')).toEqual({ allow: true, reason: 'public-route', rule: 0, grantingGroups: [] });
    expect(evaluate(policy, undefined, 'POST', '/health/x')).toEqual({ allow: true, reason: 'public-route', rule: 0, grantingGroups: [] });
    expect(evaluate(policy, undefined, 'GET', '/healthz')).toEqual({
      allow: false,
      reason: 'user-unauthenticated',
      rule: undefined,
      grantingGroups: [],
    });
  });

  it('a rule with methods applies to those methods only (GET includes HEAD)', () => {
    const uploader = staff('u', 'uploaders');
    expect(evaluate(policy, staff('s'), 'POST', '/upload')).toMatchObject({ allow: false, rule: 3 });
    expect(evaluate(policy, uploader, 'POST', '/upload')).toMatchObject({ allow: true, rule: 3 });
    expect(evaluate(policy, staff('s'), 'GET', '/upload')).toEqual({
      allow: true,
      reason: 'groups-ok',
      rule: undefined,
      grantingGroups: [],
    });
    expect(evaluate(policy, staff('s'), 'PUT', '/upload')).toMatchObject({ allow: true, rule: undefined });
    expect(evaluate(policy, staff('s'), 'GET', '/read')).toMatchObject({ allow: false, rule: 4 });
    expect(evaluate(policy, staff('s'), 'HEAD', '/read')).toMatchObject({ allow: false, rule: 4 });
    expect(evaluate(policy, staff('s'), 'POST', '/read')).toMatchObject({ allow: true, rule: undefined });
  });

  it('folds the request path when the route is case-insensitive, and only then', () => {
    const rules = `allow: { authenticated: true }, rules: [ { path: /Admin, allow: { groups: [admins] } } ]`;
    const ci = compilePolicy(parse(`{ name: r, caseInsensitivePaths: true, ${rules} }`) as PolicySource);
    const cs = compilePolicy(parse(`{ name: r, caseInsensitivePaths: false, ${rules} }`) as PolicySource);
    expect(evaluate(ci, staff('s'), 'GET', '/ADMIN')).toMatchObject({ allow: false, rule: 0 });
    expect(evaluate(ci, staff('s'), 'GET', '/admin/x')).toMatchObject({ allow: false, rule: 0 });
    expect(evaluate(cs, staff('s'), 'GET', '/ADMIN')).toMatchObject({ allow: true, rule: undefined });
    expect(evaluate(cs, staff('s'), 'GET', '/Admin')).toMatchObject({ allow: false, rule: 0 });
  });

  it('a trailing slash in a rule path guards that prefix, not the whole site', () => {
    const p = compilePolicy(
      parse(`{ name: r, allow: { authenticated: true }, rules: [ { path: /static/, public: true } ] }`) as PolicySource,
    );
    expect(evaluate(p, undefined, 'GET', '/static/app.js')).toEqual({ allow: true, reason: 'public-route', rule: 0, grantingGroups: [] });
    expect(evaluate(p, undefined, 'GET', '/static')).toEqual({ allow: true, reason: 'public-route', rule: 0, grantingGroups: [] });
    expect(evaluate(p, undefined, 'GET', '/')).toEqual({
      allow: false,
      reason: 'user-unauthenticated',
      rule: undefined,
      grantingGroups: [],
    });
    expect(evaluate(p, undefined, 'GET', '/admin')).toEqual({
      allow: false,
      reason: 'user-unauthenticated',
      rule: undefined,
      grantingGroups: [],
    });
    expect(evaluate(p, undefined, 'GET', '/staticfiles')).toEqual({
      allow: false,
      reason: 'user-unauthenticated',
      rule: undefined,
      grantingGroups: [],
    });
  });

  it('a "/**" rule after a "*" guards the bare page too (not only what is below it)', () => {
    const p = compilePolicy(
      parse(`
name: mlflow
allow: { groups: [ml-admins, labelers] }
rules:
  - { path: "/projects/*/settings/**", allow: { groups: [ml-admins] } }
`) as PolicySource,
    );
    expect(evaluate(p, BOB, 'GET', '/projects/7/settings/members')).toMatchObject({ allow: false, reason: 'groups-unauthorized', rule: 0 });
    expect(evaluate(p, BOB, 'GET', '/projects/7/settings')).toMatchObject({ allow: false, reason: 'groups-unauthorized', rule: 0 });
    expect(evaluate(p, BOB, 'GET', '/projects/7/settingsx')).toMatchObject({ allow: true, reason: 'groups-ok', rule: undefined });
  });

  it('the first matching rule decides, even when a later one would allow', () => {
    const p = compilePolicy(
      parse(`
name: r
allow: { authenticated: true }
rules:
  - { path: /a/b, allow: { groups: [admins] } }
  - { path: /a, public: true }
`) as PolicySource,
    );
    expect(evaluate(p, undefined, 'GET', '/a/b/c')).toMatchObject({ allow: false, reason: 'user-unauthenticated', rule: 0 });
    expect(evaluate(p, undefined, 'GET', '/a/c')).toMatchObject({ allow: true, reason: 'public-route', rule: 1 });
  });
});

describe('evaluateReadings: the strictest decision over every reading of the path', () => {
  const policy = compilePolicy(
    parse(`
name: r
allow: { groups: [staff, admins] }
rules:
  - { path: /health, public: true }
  - { path: /admin, allow: { groups: [admins] } }
  - { path: /ops, allow: { groups: [ops] } }
  - { path: /pub, public: true }
`) as PolicySource,
  );
  const staff: Identity = { user: 's', groups: ['staff'], idp: 'corp' };
  const admin: Identity = { user: 'a', groups: ['admins'], idp: 'corp' };
  const d = (allow: boolean, reason: string, rule: number | undefined, grantingGroups: string[] = []) => ({
    allow,
    reason,
    rule,
    grantingGroups,
  });

  it("one reading: that reading's decision", () => {
    expect(evaluateReadings(policy, staff, 'GET', ['/admin'])).toEqual(d(false, 'groups-unauthorized', 1, ['admins']));
    expect(evaluateReadings(policy, undefined, 'GET', ['/health'])).toEqual(d(true, 'public-route', 0));
  });

  it("every reading allowed: the canonical reading's allow", () => {
    expect(evaluateReadings(policy, admin, 'GET', ['/admin', '/x'])).toEqual(d(true, 'groups-ok', 1));
  });

  it('a reading that meets a stricter rule refuses the request, whichever position it has', () => {
    expect(evaluateReadings(policy, staff, 'GET', ['/x', '/admin'])).toEqual(d(false, 'groups-unauthorized', 1, ['admins']));
    expect(evaluateReadings(policy, staff, 'GET', ['/x', '/y', '/admin'])).toEqual(d(false, 'groups-unauthorized', 1, ['admins']));
  });

  it('the first denial stands when several readings are denied', () => {
    expect(evaluateReadings(policy, staff, 'GET', ['/x', '/admin', '/ops'])).toEqual(d(false, 'groups-unauthorized', 1, ['admins']));
    expect(evaluateReadings(policy, staff, 'GET', ['/admin', '/ops'])).toEqual(d(false, 'groups-unauthorized', 1, ['admins']));
    expect(evaluateReadings(policy, staff, 'GET', ['/x', '/ops', '/admin'])).toEqual(d(false, 'groups-unauthorized', 2, ['ops']));
  });

  it('sign-in needed on the canonical reading: that decision, whatever the other readings say', () => {
    expect(evaluateReadings(policy, undefined, 'GET', ['/admin', '/ops'])).toEqual(d(false, 'user-unauthenticated', 1));
    expect(evaluateReadings(policy, undefined, 'GET', ['/admin', '/health', '/ops'])).toEqual(d(false, 'user-unauthenticated', 1));
  });

  it('sign-in is asked for if any reading needs it, even after a denial', () => {
    expect(evaluateReadings(policy, undefined, 'GET', ['/x', '/health'])).toEqual(d(false, 'user-unauthenticated', undefined));
    expect(evaluateReadings(policy, undefined, 'GET', ['/health', '/health;x'])).toEqual(d(false, 'user-unauthenticated', undefined));
    expect(evaluateReadings(policy, undefined, 'GET', ['/health', '/pub', '/admin'])).toEqual(d(false, 'user-unauthenticated', 1));
  });

  it('a public reading does not make the request public when another reading is merely allowed', () => {
    expect(evaluateReadings(policy, staff, 'GET', ['/health', '/health;x'])).toEqual(d(true, 'groups-ok', undefined));
    expect(evaluateReadings(policy, staff, 'GET', ['/health', '/pub'])).toEqual(d(true, 'public-route', 0));
    expect(evaluateReadings(policy, staff, 'GET', ['/x', '/health'])).toEqual(d(true, 'groups-ok', undefined));
    expect(evaluateReadings(policy, admin, 'GET', ['/health', '/admin', '/x'])).toEqual(d(true, 'groups-ok', 1));
    expect(evaluateReadings(policy, staff, 'GET', ['/health', '/x', '/admin'])).toEqual(d(false, 'groups-unauthorized', 1, ['admins']));
  });
});
