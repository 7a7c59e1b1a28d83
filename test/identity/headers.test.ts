// The identity header plan of a route: names, groups filter, roles, size limit, assertion.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { createAssertionSigner } from '../../src/identity/assertion.ts';
import { createHeaderPlan, headerValue } from '../../src/identity/headers.ts';
import { loadSigningKeys } from '../../src/identity/keys.ts';
import { compilePolicy } from '../../src/policy/compile.ts';

function planFor(route: Record<string, unknown>, global: Record<string, unknown> = {}, withSigner = false) {
  const { config } = compileConfig({
    server: { public_url: 'https://ml.corp.example' },
    identity_headers: global,
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:5000', allow: { groups: ['ml-admins'] }, assertion: withSigner, ...route }],
  });
  const r = config.routes[0]!;
  return (async () => {
    const signer = withSigner ? createAssertionSigner(await loadSigningKeys(undefined), config.server.publicUrl, 300_000) : undefined;
    return createHeaderPlan({ route: r, policy: compilePolicy(r), signer });
  })();
}

const ALICE = {
  user: 'alice@example.com',
  email: 'alice@example.com',
  name: 'Alice',
  groups: ['ml-admins', 'data-scientists'],
  idp: 'corp',
};

describe('identity header plan', () => {
  it("sends oauth2-proxy's default names with the verified values", async () => {
    const plan = await planFor({});
    expect(await plan.build(ALICE, undefined)).toEqual({
      'x-forwarded-user': 'alice@example.com',
      'x-forwarded-email': 'alice@example.com',
      'x-forwarded-preferred-username': 'alice@example.com',
      'x-forwarded-name': 'Alice',
      'x-forwarded-groups': 'ml-admins,data-scientists',
      'x-forwarded-idp': 'corp',
    });
  });

  it('uses per-route names, and "" means not sent', async () => {
    const plan = await planFor({ identity_headers: { user: 'Remote-User', groups: '' } }, { email: 'X-WEBAUTH-EMAIL' });
    const h = await plan.build(ALICE, undefined);
    expect(h['remote-user']).toBe('alice@example.com');
    expect(h['x-webauth-email']).toBe('alice@example.com');
    expect(h['x-forwarded-groups']).toBeUndefined();
    expect(h['x-forwarded-user']).toBeUndefined();
  });

  it('send_groups: policy sends only the groups the route mentions; roles map groups', async () => {
    const plan = await planFor({ send_groups: 'policy', roles: { 'ml-admins': 'admin', 'data-scientists': 'editor', other: 'viewer' } });
    const h = await plan.build({ ...ALICE, groups: ['g1', 'ml-admins', 'g2', 'data-scientists'] }, undefined);
    expect(h['x-forwarded-groups']).toBe('ml-admins');
    expect(h['x-forwarded-roles']).toBe('admin,editor');
  });

  it('refuses identities that do not fit in max_header_bytes, never truncating', async () => {
    const plan = await planFor({ max_header_bytes: 1024 });
    const many = { ...ALICE, groups: Array.from({ length: 300 }, (_, i) => `directory-group-${i}`) };
    await expect(plan.build(many, undefined)).rejects.toMatchObject({ code: 'GH_HEADERS_TOO_LARGE', status: 431 });
    const policyOnly = await planFor({ max_header_bytes: 1024, send_groups: 'policy' });
    expect((await policyOnly.build({ ...many, groups: [...many.groups, 'ml-admins'] }, undefined))['x-forwarded-groups']).toBe('ml-admins');
  });

  it('adds a signed assertion, reused until it nears expiry', async () => {
    const plan = await planFor({}, {}, true);
    // Only the first signing is pending; the kept assertion is there at once (no promise per request).
    const pending = plan.build(ALICE, undefined);
    expect(pending).toBeInstanceOf(Promise);
    const h1 = await pending;
    const h2 = plan.build(ALICE, undefined);
    expect(h2).not.toBeInstanceOf(Promise);
    const jwt = h1['x-gatehouse-assertion']!;
    expect((h2 as Record<string, string>)['x-gatehouse-assertion']).toBe(jwt);
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({
      iss: 'https://ml.corp.example',
      aud: 'http://127.0.0.1:5000',
      sub: 'alice@example.com',
      groups: ['ml-admins', 'data-scientists'],
      idp: 'corp',
    });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
    expect(claims.jti).toBeTruthy();
  });

  it('keeps the assertion for a fresh copy of the same identity, signs anew for a changed one', async () => {
    const plan = await planFor({}, {}, true);
    const jwt = (await plan.build({ ...ALICE }, undefined))['x-gatehouse-assertion']!;
    // The session record read again from the store is a new object with the same content.
    expect((await plan.build({ ...ALICE, groups: [...ALICE.groups] }, undefined))['x-gatehouse-assertion']).toBe(jwt);
    const changed = (await plan.build({ ...ALICE, groups: ['ml-admins'] }, undefined))['x-gatehouse-assertion']!;
    expect(changed).not.toBe(jwt);
    expect(decodeJwt(changed).groups).toEqual(['ml-admins']);
  });

  it('renews the assertion once due: the kept one serves while the new one is signed', async () => {
    const { config } = compileConfig({
      server: { public_url: 'https://ml.corp.example' },
      routes: [{ name: 'r', upstream: 'http://127.0.0.1:5000', allow: { groups: ['ml-admins'] } }],
    });
    const r = config.routes[0]!;
    let clock = 1_000_000;
    const signer = createAssertionSigner(await loadSigningKeys(undefined), config.server.publicUrl, 60_000, () => clock);
    const plan = createHeaderPlan({ route: r, policy: compilePolicy(r), signer });
    const first = (await plan.build(ALICE, undefined))['x-gatehouse-assertion']!;
    clock += 47_000; // 13 s left of 60: not yet due (renewal at a fifth of the lifetime left)
    expect((await plan.build(ALICE, undefined))['x-gatehouse-assertion']).toBe(first);
    clock += 2_000; // 11 s left: due
    expect((await plan.build(ALICE, undefined))['x-gatehouse-assertion']).toBe(first);
    // The background signing (ES256 on the thread pool) ends when the machine lets it: poll for
    // up to 10 s of wall time, not a number of event-loop turns (100 were too few on a busy CI box).
    let next = first;
    const deadline = Date.now() + 10_000;
    while (next === first && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      next = (await plan.build(ALICE, undefined))['x-gatehouse-assertion']!;
    }
    expect(next).not.toBe(first);
    expect(decodeJwt(next).iat).toBe(Math.floor(clock / 1000));
  });

  it('passes the access token when asked', async () => {
    const plan = await planFor({ pass_access_token: true });
    expect((await plan.build(ALICE, 'at-123'))['authorization']).toBe('Bearer at-123');
  });

  it('cannot be split or corrupted by IdP-supplied values', async () => {
    expect(headerValue('alice\r\nX-Evil: 1')).toBe('aliceX-Evil: 1');
    expect(headerValue('Zoë Šimić')).toBe('Zo%C3%AB %C5%A0imi%C4%87');
    expect(headerValue('a\u0000b')).toBe('ab');
    const plan = await planFor({});
    expect((await plan.build({ user: 'u', groups: ['a,b', 'c'], idp: 'x' }, undefined))['x-forwarded-groups']).toBe('a%2Cb,c');
  });
});
