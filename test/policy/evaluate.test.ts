// The policy table: inline YAML-shaped policies, an identity, a method and a raw request path
// (normalised exactly as the pipeline does) → decision and reason. Includes the path-normalisation
// bypass family: every spelling of /admin must meet the /admin rule, or be refused as a bad path.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compilePathPattern, compilePolicy, type PolicySource } from '../../src/policy/compile.ts';
import { evaluate, type Identity } from '../../src/policy/evaluate.ts';
import { policyPath } from '../../src/route/canonical.ts';
import { normalizePath } from '../../src/route/normalize.ts';

const ALICE: Identity = { user: 'alice@corp.example', email: 'alice@corp.example', groups: ['ml-admins', 'data-scientists'], idp: 'corp' };
const BOB: Identity = { user: 'bob@corp.example', email: 'bob@corp.example', groups: ['labelers'], idp: 'corp' };
const CAROL: Identity = { user: 'carol', email: 'carol@partner.example', groups: [], idp: 'corp' };
const MALLORY: Identity = { user: 'mallory@corp.example', email: 'Mallory@Corp.Example', groups: ['ml-admins', 'contractors'], idp: 'corp' };
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
  - { path: /reports, allow: { email_domains: [partner.example] } }
  - { path: /private, allow: { emails: [ALICE@corp.example] }, deny: { users: [alice@corp.example] } }
`) as PolicySource;

const OPEN = parse(`{ name: open, allow: { public: true } }`) as PolicySource;
const CLOSED = parse(`{ name: closed }`) as PolicySource;
const AUTHN = parse(`{ name: authn, allow: { authenticated: true } }`) as PolicySource;
const CI = parse(`{ name: ci, case_insensitive_paths: true, caseInsensitivePaths: true, allow: { authenticated: true }, rules: [ { path: /admin, allow: { groups: [ml-admins] } } ] }`) as PolicySource;

type Row = [policy: PolicySource, who: keyof typeof WHO, method: string, rawPath: string, allow: boolean | 'bad-path', reason?: string, rule?: number];

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
  [parse(`{ name: d, allow: { email_domains: [corp.example] } }`), 'nomail', 'GET', '/', false, 'groups-unauthorized'],
  [parse(`{ name: d, allow: { email_domains: ["@corp.example"] } }`), 'bob', 'GET', '/', true, 'email-domain-ok'],
  // Deny beats allow inside a rule, and the route deny applies inside rules.
  [MLFLOW, 'alice', 'GET', '/private', false, 'denied', 7],
  [MLFLOW, 'mallory', 'GET', '/admin', false, 'denied'],
  [MLFLOW, 'mallory', 'GET', '/health', true, 'public-route', 0],
];

describe('policy evaluate (table)', () => {
  const compiled = new Map<PolicySource, ReturnType<typeof compilePolicy>>();
  const policyOf = (p: PolicySource) => {
    let c = compiled.get(p);
    if (!c) compiled.set(p, (c = compilePolicy(p)));
    return c;
  };

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
    ['/api', '/api', true], ['/api', '/api/x', true], ['/api', '/apix', false], ['/api/', '/api', true],
    ['/api/**', '/api', true], ['/api/**', '/api/a/b', true], ['/api/**', '/apix', false],
    ['/p/*/x', '/p/1/x', true], ['/p/*/x', '/p/1/2/x', false], ['/p/*/x', '/p//x', true],
    ['/a.b', '/aXb', false], ['/**', '/anything/at/all', true], ['/', '/x', true],
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
