// The spawner-safe username header (identity_headers.username): how names are made, and that it
// is sent only when configured.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { createHeaderPlan } from '../../src/identity/headers.ts';
import { safeUsername } from '../../src/identity/username.ts';
import { compilePolicy } from '../../src/policy/compile.ts';

const ALICE = { user: 'Alice.Smith@Example.com', email: 'alice@example.com', name: 'Zoë Ålund', groups: ['ml'], idp: 'corp' };

function planFor(over: Record<string, unknown>) {
  const { config } = compileConfig({
    server: { public_url: 'https://ml.corp.example' },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:5000', allow: { authenticated: true }, assertion: false }],
    ...over,
  });
  const r = config.routes[0]!;
  return createHeaderPlan({ route: r, policy: compilePolicy(r), signer: undefined });
}

const CASES: [string, string][] = [
  ['alice@example.com', 'alice'],
  ['Alice.Smith@Example.com', 'alice-smith'],
  ['Zoë Ålund', 'zoe-alund'],
  ['42-bob_', 'bob'],
  ['__x', 'x'],
  ['../../etc/passwd', 'etc-passwd'],
  ['a;rm -rf /', 'a-rm-rf'],
  ['日本', ''],
  ['@example.com', ''],
];

describe('safeUsername', () => {
  it.each(CASES)('%s → %s', (input, expected) => {
    expect(safeUsername(input, 32)).toBe(expected);
  });

  it('the JupyterHub authenticator example derives the same names (safe_username)', () => {
    const dir = fileURLToPath(new URL('../../config/examples/integrations/jupyterhub/', import.meta.url));
    const script =
      'import json, sys; sys.path.insert(0, sys.argv[1]); from gatehouse_authenticator import safe_username; print(json.dumps([safe_username(v) for v in json.load(sys.stdin)]))';
    const r = spawnSync('/usr/bin/python3', ['-c', script, dir], {
      input: JSON.stringify(CASES.map(([v]) => v)),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(CASES.map(([, e]) => e));
  });

  it('cuts at max_length without a trailing separator', () => {
    expect(safeUsername('abcdefgh-ijk@x', 9)).toBe('abcdefgh');
    expect(safeUsername('a'.repeat(40), 32)).toHaveLength(32);
  });
});

describe('identity_headers.username', () => {
  it('is not sent by default', async () => {
    const h = await planFor({}).build(ALICE, undefined);
    expect(Object.keys(h).filter((k) => k.includes('username'))).toEqual(['x-forwarded-preferred-username']);
  });

  it('sends the sanitised name from the configured identity field', async () => {
    expect(
      (await planFor({ identity_headers: { username: 'X-Forwarded-Username' } }).build(ALICE, undefined))['x-forwarded-username'],
    ).toBe('alice-smith');
    expect(
      (await planFor({ identity_headers: { username: 'X-Forwarded-Username' }, username: { from: 'email' } }).build(ALICE, undefined))[
        'x-forwarded-username'
      ],
    ).toBe('alice');
    expect(
      (
        await planFor({ identity_headers: { username: 'X-Local-User' }, username: { from: 'name', max_length: 3 } }).build(ALICE, undefined)
      )['x-local-user'],
    ).toBe('zoe');
  });

  it("is left out when nothing usable is left, and a client's copy is always stripped", async () => {
    const plan = planFor({ identity_headers: { username: 'Remote-Login' } });
    expect((await plan.build({ ...ALICE, user: '日本' }, undefined))['remote-login']).toBeUndefined();
    const { config } = compileConfig({
      server: { public_url: 'https://ml.corp.example' },
      identity_headers: { username: 'Remote-Login' },
      routes: [{ name: 'r', upstream: 'http://127.0.0.1:5000', allow: { public: true } }],
    });
    expect(config.reservedHeaders).toContain('remote-login');
  });
});
