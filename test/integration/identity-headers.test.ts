// What reaches the upstream about the user, end to end against real servers on 127.0.0.1 (the demo
// IdP, Gatehouse, an upstream): forged identity headers in every spelling, the signed assertion
// checked with jose as an upstream would, the session cookie kept from the upstream, send_groups /
// roles, max_header_bytes, and pass_access_token.
import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { getJson } from '../support/http.ts';
import { startOidcSetup } from '../support/oidc.ts';
import { COOKIE, ALICE, BOB, signIn, pairs, valuesNamed, expectNoForged, seenAt, rawGet } from '../support/identity-e2e.ts';
import { startUpstream } from '../support/upstream.ts';

describe('client-sent identity headers', () => {
  const SPELLINGS: readonly (readonly string[])[] = [
    ['X-Forwarded-User: admin'],
    ['x-forwarded-user: admin'],
    ['X_Forwarded_User: admin'],
    ['X-FORWARDED-USER: admin'],
    ['X-Forwarded-User: admin', 'X-Forwarded-User: admin'],
    ['Connection: X-Forwarded-User', 'X-Forwarded-User: admin'],
    ['X-Forwarded-User: admin', 'x_forwarded_user: admin', 'X-FORWARDED-USER: admin', 'Connection: keep-alive, X-Forwarded-User'],
  ];

  it('never pass a forged X-Forwarded-User in any spelling, signed in or anonymous', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      routes: [
        { name: 'pub', path: '/pub', upstream: up.url, allow: { public: true } },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    const bob = await signIn(gh, 'bob');
    for (const [i, lines] of SPELLINGS.entries()) {
      const label = lines.join(' | ');
      // Signed in: the upstream sees bob's verified value, once.
      const signed = await rawGet(gh, `/x?v=${i}`, [`cookie: ${COOKIE}=${bob}`, 'X-Probe: kept', ...lines]);
      expect(signed.status, label).toBe(200);
      const s = seenAt(up.seen, `/x?v=${i}`);
      // Ordinary client headers do arrive (so the forged ones were really sent and removed).
      expect(valuesNamed(s, 'x-probe'), label).toEqual(['kept']);
      expectNoForged(s, 'admin');
      expect(valuesNamed(s, 'x-forwarded-user'), label).toEqual([BOB]);
      // Anonymous on a public route: no X-Forwarded-User at all.
      const anon = await rawGet(gh, `/pub/x?v=${i}`, lines);
      expect(anon.status, label).toBe(200);
      const a = seenAt(up.seen, `/pub/x?v=${i}`);
      expectNoForged(a, 'admin');
      expect(valuesNamed(a, 'x-forwarded-user'), label).toEqual([]);
    }
  });

  it("strips a route's custom identity header name (Remote-User) on every route", async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      routes: [
        { name: 'legacy', path: '/legacy', upstream: up.url, allow: { authenticated: true }, identity_headers: { user: 'Remote-User' } },
        { name: 'pub', path: '/pub', upstream: up.url, allow: { public: true } },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    const bob = await signIn(gh, 'bob');
    const forged = ['Remote-User: admin', 'Remote_User: admin', 'REMOTE-USER: admin'];
    let n = 0;
    for (const lines of [[forged[0]!], [forged[1]!], [forged[2]!], forged]) {
      const label = lines.join(' | ');
      // The route that uses the name: bob's value, once.
      n++;
      expect((await rawGet(gh, `/legacy/x?v=${n}`, [`cookie: ${COOKIE}=${bob}`, ...lines])).status, label).toBe(200);
      const legacy = seenAt(up.seen, `/legacy/x?v=${n}`);
      expectNoForged(legacy, 'admin');
      expect(valuesNamed(legacy, 'remote-user'), label).toEqual([BOB]);
      // Another route that does not use that name: stripped all the same, nothing set.
      expect((await rawGet(gh, `/other?v=${n}`, [`cookie: ${COOKIE}=${bob}`, ...lines])).status, label).toBe(200);
      const other = seenAt(up.seen, `/other?v=${n}`);
      expectNoForged(other, 'admin');
      expect(valuesNamed(other, 'remote-user'), label).toEqual([]);
      expect(valuesNamed(other, 'x-forwarded-user'), label).toEqual([BOB]);
      // Anonymous on a public route.
      expect((await rawGet(gh, `/pub/x?v=${n}`, lines)).status, label).toBe(200);
      const anon = seenAt(up.seen, `/pub/x?v=${n}`);
      expectNoForged(anon, 'admin');
      expect(valuesNamed(anon, 'remote-user'), label).toEqual([]);
    }
  });
});

describe('signed identity assertion', () => {
  it('verifies at the upstream with jose against /.gatehouse/jwks; a client-sent assertion is replaced', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url);
    const alice = await signIn(gh, 'alice', '/admin/x');
    const publicUrl = gh.current().config.server.publicUrl;
    expect(publicUrl).toBe(gh.url);

    // An attacker's own ES256 token claiming to be an admin, in two spellings.
    const attacker = await generateKeyPair('ES256');
    const forged = await new SignJWT({ groups: ['ml-admins'], idp: 'corp', email: 'admin@example.com' })
      .setProtectedHeader({ alg: 'ES256', kid: 'attacker', typ: 'JWT' })
      .setIssuer(publicUrl)
      .setAudience(up.url)
      .setSubject('admin@example.com')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(attacker.privateKey);
    const r = await rawGet(gh, '/admin/assert', [
      `cookie: ${COOKIE}=${alice}`,
      `X-Gatehouse-Assertion: ${forged}`,
      `X_Gatehouse_Assertion: ${forged}`,
    ]);
    expect(r.status).toBe(200);
    const s = seenAt(up.seen, '/admin/assert');
    expectNoForged(s, forged);
    const tokens = valuesNamed(s, 'x-gatehouse-assertion');
    expect(tokens).toHaveLength(1);
    const token = tokens[0]!;
    expect(token).not.toBe(forged);

    const jwks = createRemoteJWKSet(new URL(`${gh.url}/.gatehouse/jwks`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: publicUrl, audience: new URL(up.url).origin });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.sub).toBe(ALICE);
    expect(payload.email).toBe(ALICE);
    expect(payload.groups).toEqual(['ml-admins', 'data-scientists']);
    expect(payload.idp).toBe('corp');
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
    expect(payload.exp! * 1000).toBeGreaterThan(Date.now());
    // The forged one does not verify against Gatehouse's keys.
    await expect(jwtVerify(forged, jwks, { issuer: publicUrl, audience: up.url })).rejects.toThrow();
  });

  // FAILS today (src bug, reported): the assertion is cached per identity and upstream origin,
  // not per group set, so a route with send_groups: policy reuses the token minted for another
  // route to the same upstream and leaks the groups that route is meant to hide.
  it('carries the same groups as X-Forwarded-Groups on each route, also when two routes share an upstream', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      routes: [
        { name: 'registry', path: '/registry', upstream: up.url, allow: { groups: ['ml-admins'] }, send_groups: 'policy' },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    const alice = await signIn(gh, 'alice', '/first');
    const jwks = createRemoteJWKSet(new URL(`${gh.url}/.gatehouse/jwks`));
    const groupsAt = async (path: string) => {
      expect((await getJson(`${gh.url}${path}`, { cookie: `${COOKIE}=${alice}` })).status).toBe(200);
      const s = seenAt(up.seen, path);
      const token = valuesNamed(s, 'x-gatehouse-assertion')[0]!;
      const { payload } = await jwtVerify(token, jwks, { issuer: gh.url, audience: up.url });
      return { header: valuesNamed(s, 'x-forwarded-groups'), assertion: payload.groups };
    };
    expect(await groupsAt('/all-1')).toEqual({ header: ['ml-admins,data-scientists'], assertion: ['ml-admins', 'data-scientists'] });
    expect(await groupsAt('/registry/x')).toEqual({ header: ['ml-admins'], assertion: ['ml-admins'] });
    expect(await groupsAt('/all-2')).toEqual({ header: ['ml-admins,data-scientists'], assertion: ['ml-admins', 'data-scientists'] });
  });
});

describe('session cookie', () => {
  it("is removed from Cookie while the upstream's own cookies pass", async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url);
    const alice = await signIn(gh, 'alice');
    const r = await getJson(`${gh.url}/c1`, { cookie: `_xsrf=1; ${COOKIE}=${alice}; mlflow-session=2` });
    expect(r.status).toBe(200);
    const s = seenAt(up.seen, '/c1');
    expect(s.headers['x-forwarded-user']).toBe(ALICE);
    expect(s.headers.cookie).toBe('_xsrf=1; mlflow-session=2');
    for (const [, v] of pairs(s)) expect(v).not.toContain(alice);
    // Only the Gatehouse cookie: no Cookie header upstream at all.
    expect((await getJson(`${gh.url}/c2`, { cookie: `${COOKIE}=${alice}` })).status).toBe(200);
    expect(valuesNamed(seenAt(up.seen, '/c2'), 'cookie')).toEqual([]);
  });
});

describe('send_groups and roles', () => {
  it('send_groups: policy sends only the groups the policy names; roles map all groups', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      routes: [
        {
          name: 'mlflow',
          path: '/',
          upstream: up.url,
          allow: { groups: ['ml-admins'] },
          send_groups: 'policy',
          roles: { 'ml-admins': 'admin', 'data-scientists': 'editor' },
        },
      ],
    });
    const alice = await signIn(gh, 'alice', '/first');
    expect((await getJson(`${gh.url}/g`, { cookie: `${COOKIE}=${alice}` })).status).toBe(200);
    const s = seenAt(up.seen, '/g');
    expect(valuesNamed(s, 'x-forwarded-groups')).toEqual(['ml-admins']);
    expect(valuesNamed(s, 'x-forwarded-roles')).toEqual(['admin,editor']);
    expect(valuesNamed(s, 'x-forwarded-user')).toEqual([ALICE]);
    // The signed assertion carries the same (reduced) group list.
    const jwks = createRemoteJWKSet(new URL(`${gh.url}/.gatehouse/jwks`));
    const { payload } = await jwtVerify(valuesNamed(s, 'x-gatehouse-assertion')[0]!, jwks, { issuer: gh.url, audience: up.url });
    expect(payload.groups).toEqual(['ml-admins']);
  });
});

describe('max_header_bytes', () => {
  it('refuses with 431 JSON when the identity headers do not fit, without calling the upstream', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      routes: [
        { name: 'tight', path: '/tight', upstream: up.url, allow: { authenticated: true }, max_header_bytes: 256 },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    const alice = await signIn(gh, 'alice');
    const r = await getJson(`${gh.url}/tight/x`, { cookie: `${COOKIE}=${alice}` });
    expect(r.status).toBe(431);
    expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
    expect(r.body).toMatchObject({ error: 'GH_HEADERS_TOO_LARGE', status: 431, route: 'tight' });
    expect(r.body.request_id).toBe(r.headers['x-request-id']);
    expect(up.seen.some((s) => s.url.startsWith('/tight'))).toBe(false);
    // The same identity is fine on a route with the default limit.
    expect((await getJson(`${gh.url}/x`, { cookie: `${COOKIE}=${alice}` })).status).toBe(200);
  });
});

describe('pass_access_token', () => {
  it('sends the IdP access token upstream as Authorization: Bearer', async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, {
      routes: [
        { name: 'tool', path: '/tool', upstream: up.url, allow: { authenticated: true }, pass_access_token: true },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    const alice = await signIn(gh, 'alice');
    // A client-sent Authorization is replaced, not added to.
    const r = await getJson(`${gh.url}/tool/x`, { cookie: `${COOKIE}=${alice}`, authorization: 'Bearer client-supplied-token' });
    expect(r.status).toBe(200);
    const auth = valuesNamed(seenAt(up.seen, '/tool/x'), 'authorization');
    expect(auth).toHaveLength(1);
    expect(auth[0]!).toMatch(/^Bearer \S{10,}$/);
    expect(auth[0]!).not.toContain('client-supplied-token');
    const token = auth[0]!.slice(7);
    expect(token).not.toBe(alice);
    expect(alice).not.toContain(token);
    // It is a real access token: the IdP's userinfo endpoint accepts it for alice.
    const discovery = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
    const me = await getJson(discovery.body.userinfo_endpoint, { authorization: `Bearer ${token}` });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(ALICE);
    // Routes without pass_access_token send no token.
    expect((await getJson(`${gh.url}/y`, { cookie: `${COOKIE}=${alice}` })).status).toBe(200);
    expect(valuesNamed(seenAt(up.seen, '/y'), 'authorization')).toEqual([]);
  });
});
