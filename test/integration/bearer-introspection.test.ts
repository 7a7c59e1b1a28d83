// IdP access tokens that are not JWTs (issue 16): the real demo oidc-provider issues opaque access
// tokens and offers RFC 7662 introspection; Gatehouse asks it about a bearer token it cannot verify
// itself, authenticating as its client, and completes the identity (groups above all) from the
// userinfo endpoint where the IdP enables bearer_userinfo. The token is a real one: alice signs in
// through the demo IdP and a pass_access_token route hands her session's access token to the
// upstream, which is where this test picks it up.
import { describe, expect, it } from 'vitest';
import { createBearerVerifier } from '../../src/auth/bearer/verify.ts';
import { getJson } from '../support/http.ts';
import { ALICE, seenAt, signIn, valuesNamed } from '../support/identity-e2e.ts';
import { CLIENT_ID, CLIENT_SECRET, startOidcSetup } from '../support/oidc.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const routes = (upstream: string) => [
  { name: 'token', path: '/token', upstream, pass_access_token: true, allow: { authenticated: true } },
  { name: 'admin', path: '/admin', upstream, allow: { groups: ['ml-admins'] } },
  { name: 'app', path: '/', upstream, allow: { authenticated: true } },
];

/** Alice's opaque access token at the demo IdP, taken off the upstream of a pass_access_token route. */
async function opaqueToken(up: TestUpstream, gh: Parameters<typeof signIn>[0]): Promise<string> {
  await signIn(gh, 'alice', '/token/grab');
  const [auth] = valuesNamed(seenAt(up.seen, '/token/grab'), 'authorization');
  expect(auth).toMatch(/^Bearer /);
  const token = auth!.slice(7);
  // Opaque: not three dot-separated parts, so only the IdP can say what it is.
  expect(token.split('.')).toHaveLength(1);
  return token;
}

describe('opaque IdP access tokens: RFC 7662 introspection and groups from userinfo', () => {
  it('accepts an opaque access token the IdP introspects as active, with groups from userinfo; refuses tokens it does not know', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      idp: { introspection: true },
      provider: { bearer_audiences: [CLIENT_ID], introspection: { enabled: true, cache_ttl: '30s' }, bearer_userinfo: { enabled: true } },
      routes: routes(up.url),
    });
    const token = await opaqueToken(up, gh);

    const ok = await getJson(`${gh.url}/admin/opaque`, { authorization: `Bearer ${token}` });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const s = seenAt(up.seen, '/admin/opaque');
    // Introspection says only "sub: alice"; userinfo adds the e-mail (the user claim) and groups.
    expect(valuesNamed(s, 'x-forwarded-user')).toEqual([ALICE]);
    expect(valuesNamed(s, 'x-forwarded-groups')).toEqual(['ml-admins,data-scientists']);
    // Answered from the cache the second time, same identity.
    const again = await getJson(`${gh.url}/admin/again`, { 'proxy-authorization': `Bearer ${token}` });
    expect(again.status).toBe(200);
    expect(valuesNamed(seenAt(up.seen, '/admin/again'), 'x-forwarded-user')).toEqual([ALICE]);

    // Unknown to the IdP (active: false) → 401 invalid_token, twice (the refusal is cached too).
    for (const path of ['/admin/unknown', '/admin/unknown-again']) {
      const r = await getJson(`${gh.url}${path}`, { authorization: 'Bearer opaque-token-the-idp-never-issued' });
      expect(r.status, path).toBe(401);
      expect(r.body.error, path).toBe('GH_BAD_TOKEN');
      expect(r.headers['www-authenticate'], path).toBe('Bearer error="invalid_token"');
    }
    expect(up.seen.some((x) => x.url.startsWith('/admin/unknown'))).toBe(false);
  });

  it('counts an active token only for the IdP whose bearer_audiences name its client; without bearer_userinfo the identity is the subject, without groups', async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, {
      idp: { introspection: true },
      provider: { bearer_audiences: [CLIENT_ID], introspection: { enabled: true } },
      routes: routes(up.url),
    });
    const token = await opaqueToken(up, gh);

    // A second Gatehouse, same IdP twice: "corp" vouches only for tokens of another application and
    // so must not accept this one; "corp2" (asked next, in config order) names this client.
    const provider = (id: string, audiences: string[]) => ({
      id,
      type: 'oidc',
      issuer: idp.issuer,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      bearer_audiences: audiences,
      introspection: { enabled: true },
    });
    const other = await startTestGatehouse({
      log_level: 'silent',
      server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', shutdown_timeout: '1s' },
      session: { store: 'memory', secret: 'introspection-test-session-secret-0123456789', cookie: { secure: false } },
      identity_providers: [provider('corp', ['some-other-api']), provider('corp2', [CLIENT_ID])],
      routes: [
        ...routes(up.url)
          .slice(1)
          .map((r) => ({ ...r, idps: ['corp', 'corp2'] })),
        { name: 'only-corp', path: '/only-corp', upstream: up.url, idps: ['corp'], allow: { authenticated: true } },
      ],
    });
    for (const id of ['corp', 'corp2']) await other.current().providers.oidc.get(id)?.ready();

    const app = await getJson(`${other.url}/app-call`, { authorization: `Bearer ${token}` });
    expect(app.status, JSON.stringify(app.body)).toBe(200);
    const s = seenAt(up.seen, '/app-call');
    expect(valuesNamed(s, 'x-forwarded-user')).toEqual(['alice']);
    expect(valuesNamed(s, 'x-forwarded-idp')).toEqual(['corp2']);
    // No groups without bearer_userinfo (the demo IdP's access tokens carry none): group routes refuse.
    const admin = await getJson(`${other.url}/admin/no-groups`, { authorization: `Bearer ${token}` });
    expect(admin.status).toBe(403);
    // The IdP that does not vouch for it counts as no identity on a route only it may serve.
    const onlyCorp = await getJson(`${other.url}/only-corp/x`, { authorization: `Bearer ${token}` });
    expect(onlyCorp.status).toBe(401);
  });

  it('remembers an answer for cache_ttl at most: a user the IdP stops vouching for is refused once it runs out', async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, {
      idp: { introspection: true },
      provider: {
        bearer_audiences: [CLIENT_ID],
        introspection: { enabled: true, cache_ttl: '30s' },
        bearer_userinfo: { enabled: true, cache_ttl: '10s' },
      },
      routes: routes(up.url),
    });
    const token = await opaqueToken(up, gh);
    // A verifier over the running Gatehouse's own IdP clients, on a clock the test moves.
    let clock = Date.now();
    const verifier = createBearerVerifier(gh.current().providers.oidc.values(), () => clock);
    expect((await verifier.verify(token)).user).toBe(ALICE);
    idp.disable('alice');
    clock += 9_000;
    // Within the shorter TTL (bearer_userinfo's 10s): the remembered identity, no call to the IdP.
    expect((await verifier.verify(token)).groups).toEqual(['ml-admins', 'data-scientists']);
    clock += 2_000;
    // Past it: asked again, and the IdP's userinfo no longer knows the account.
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'GH_BAD_TOKEN', message: expect.stringContaining('userinfo') });
  });
});
