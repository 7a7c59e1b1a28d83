// OIDC sign-in end to end against a real OpenID provider (oidc-provider, the demo IdP) over HTTP
// with a cookie jar: the happy path for each user, state/browser binding, code replay, refresh,
// RP-initiated logout, the chooser, and an IdP that is down at startup.
import { describe, expect, it, onTestFinished } from 'vitest';
import { startDemoIdp } from '../../src/demo/idp.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { CLIENT_ID, CLIENT_SECRET, startOidcSetup, USERS } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isCallback = (u: string) => u.includes('/.gatehouse/oidc/corp/callback');

describe('OIDC sign-in', () => {
  it.each([
    ['alice', ['ml-admins', 'data-scientists'], 200],
    ['bob', ['labelers'], 403],
    ['carol', [], 403],
  ] as const)('%s signs in, lands where she started, with her groups', async (name, groups, adminStatus) => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url);
    const browser = new TestBrowser();
    const page = await browser.go(`${gh.url}/experiments/7?tab=runs`, USERS[name]);
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${gh.url}/experiments/7?tab=runs`);
    const hops = page.hops.map((h) => h.url);
    expect(hops[1]).toBe(`${gh.url}/.gatehouse/login?rd=${encodeURIComponent('/experiments/7?tab=runs')}`);
    const authorize = new URL(page.hops[2]!.url);
    expect(authorize.origin).toBe(idp.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    expect(authorize.searchParams.get('scope')).toBe('openid email profile groups');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${gh.url}/.gatehouse/oidc/corp/callback`);
    // The return URL never travels to the IdP.
    expect(authorize.search).not.toContain('experiments');

    const sessionCookie = browser.jar.get(gh.url, 'gatehouse');
    expect(sessionCookie).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/);
    const me = await getJson(`${gh.url}/.gatehouse/userinfo`, { cookie: `gatehouse=${sessionCookie}` });
    expect(me.body).toMatchObject({ user: `${name}@example.com`, email: `${name}@example.com`, groups, idp: 'corp', auth_method: 'oidc' });
    const admin = await getJson(`${gh.url}/admin/x`, { cookie: `gatehouse=${sessionCookie}` });
    expect(admin.status).toBe(adminStatus);
    // The upstream saw the request but never the Gatehouse cookie.
    expect(up.seen.every((s) => !String(s.headers.cookie ?? '').includes(sessionCookie!))).toBe(true);
  });

  it('takes groups from the userinfo endpoint when the ID token has none', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, { idp: { claimsInIdToken: false } });
    const browser = new TestBrowser();
    await browser.go(`${gh.url}/`, USERS.alice);
    const me = await getJson(`${gh.url}/.gatehouse/userinfo`, { cookie: `gatehouse=${browser.jar.get(gh.url, 'gatehouse')}` });
    expect(me.body.groups).toEqual(['ml-admins', 'data-scientists']);
  });

  it('mints a new session id at every sign-in', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url);
    const browser = new TestBrowser();
    await browser.go(`${gh.url}/`, USERS.alice);
    const first = browser.jar.get(gh.url, 'gatehouse');
    await browser.go(`${gh.url}/.gatehouse/login?rd=/`, USERS.alice);
    const second = browser.jar.get(gh.url, 'gatehouse');
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
  });
});

describe('OIDC callback checks', () => {
  it('refuses a callback without state, with an unknown state, or replayed', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url);
    const browser = new TestBrowser();
    const stopped = await browser.go(`${gh.url}/`, USERS.alice, isCallback);
    const callback = stopped.url;
    const noState = new URL(callback);
    noState.searchParams.delete('state');
    const a = await browser.fetch(noState.href, { headers: { accept: 'application/json' } });
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body).error).toBe('GH_LOGIN_FAILED');
    const wrongState = new URL(callback);
    wrongState.searchParams.set('state', 'forged-state');
    const b = await browser.fetch(wrongState.href, { headers: { accept: 'application/json' } });
    expect(b.status).toBe(400);
    expect(JSON.parse(b.body).message).toContain('unknown, expired or was already used');

    const ok = await browser.fetch(callback);
    expect(ok.status).toBe(302);
    const replay = await browser.fetch(callback, { headers: { accept: 'application/json' } });
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body).error).toBe('GH_LOGIN_FAILED');
  });

  it('refuses a callback that arrives in another browser (login CSRF)', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url);
    const attacker = new TestBrowser();
    const stopped = await attacker.go(`${gh.url}/`, USERS.alice, isCallback);
    const victim = new TestBrowser();
    const r = await victim.fetch(stopped.url);
    expect(r.status).toBe(400);
    expect(r.body).toContain('another browser');
    expect(victim.jar.get(gh.url, 'gatehouse')).toBeUndefined();
  });

  it('refuses a replayed authorization code even under a fresh state', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url);
    const browser = new TestBrowser();
    const first = await browser.go(`${gh.url}/`, USERS.alice, isCallback);
    const code = new URL(first.url).searchParams.get('code')!;
    expect((await browser.fetch(first.url)).status).toBe(302);
    // A second sign-in in the same browser, answered with the first (already redeemed) code.
    const second = await browser.go(`${gh.url}/.gatehouse/login?rd=/`, USERS.alice, isCallback);
    const forged = new URL(second.url);
    forged.searchParams.set('code', code);
    const r = await browser.fetch(forged.href, { headers: { accept: 'application/json' } });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).message).toContain('invalid_grant');
  });

  it("shows the IdP's own error (e.g. access_denied) on a clear page", async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url);
    const browser = new TestBrowser();
    const stopped = await browser.go(`${gh.url}/`, undefined, (u) => u.startsWith(gh.url) === false);
    const state = new URL(stopped.url).searchParams.get('state')!;
    const r = await browser.fetch(
      `${gh.url}/.gatehouse/oidc/corp/callback?error=access_denied&error_description=nope&state=${state}&iss=${encodeURIComponent(new URL(stopped.url).origin)}`,
    );
    expect(r.status).toBe(400);
    expect(r.body).toContain('access_denied');
  });
});

describe('OIDC refresh', () => {
  it('refreshes expired tokens in the background and picks up new groups', async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, { idp: { accessTokenTtlSec: 1, idTokenTtlSec: 1 } });
    const browser = new TestBrowser();
    await browser.go(`${gh.url}/`, USERS.bob);
    const cookie = { cookie: `gatehouse=${browser.jar.get(gh.url, 'gatehouse')}` };
    expect((await getJson(`${gh.url}/admin/x`, cookie)).status).toBe(403);
    idp.setGroups('bob', ['labelers', 'ml-admins']);
    await sleep(1200);
    // This request triggers the refresh; it goes on with the identity it has.
    expect((await getJson(`${gh.url}/x`, cookie)).status).toBe(200);
    await expect.poll(async () => (await getJson(`${gh.url}/admin/x`, cookie)).status, { timeout: 5000 }).toBe(200);
  });

  it('ends the session when the IdP refuses the refresh (user disabled)', async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, { idp: { accessTokenTtlSec: 1, idTokenTtlSec: 1 } });
    const browser = new TestBrowser();
    await browser.go(`${gh.url}/`, USERS.alice);
    const cookie = { cookie: `gatehouse=${browser.jar.get(gh.url, 'gatehouse')}` };
    expect((await getJson(`${gh.url}/x`, cookie)).status).toBe(200);
    idp.disable('alice');
    await sleep(1200);
    await getJson(`${gh.url}/x`, cookie);
    await expect.poll(async () => (await getJson(`${gh.url}/x`, cookie)).status, { timeout: 5000 }).toBe(401);
  });
});

describe('OIDC logout', () => {
  it('revokes the session and sends the browser to the IdP end-session endpoint with id_token_hint', async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url);
    const browser = new TestBrowser();
    await browser.go(`${gh.url}/`, USERS.alice);
    const page = await browser.fetch(`${gh.url}/.gatehouse/logout`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const sessionCookie = browser.jar.get(gh.url, 'gatehouse')!;
    const r = await browser.fetch(`${gh.url}/.gatehouse/logout`, { method: 'POST', body: `csrf=${encodeURIComponent(csrf)}` });
    expect(r.status).toBe(303);
    const end = new URL(r.location!);
    expect(end.origin).toBe(idp.issuer);
    expect(end.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${gh.url}/.gatehouse/logout`);
    expect(browser.jar.get(gh.url, 'gatehouse')).toBeUndefined();
    expect((await getJson(`${gh.url}/x`, { cookie: `gatehouse=${sessionCookie}` })).status).toBe(401);
  });
});

describe('identity provider selection', () => {
  it("shows a chooser when several IdPs may sign in, and honours a route's idps list", async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, {
      extraProviders: [
        { id: 'partner', type: 'oidc', display_name: 'Partner SSO', issuer: 'http://127.0.0.1:9', client_id: 'x', client_secret: 'y' },
      ],
      routes: [
        { name: 'corp-only', path: '/corp', upstream: up.url, allow: { authenticated: true }, idps: ['corp'] },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    const browser = new TestBrowser();
    const chooser = await browser.fetch(`${gh.url}/.gatehouse/login?rd=/x`);
    expect(chooser.status).toBe(200);
    expect(chooser.body).toContain('Partner SSO');
    expect(chooser.body).toContain('/.gatehouse/login?idp=corp&amp;rd=%2Fx');
    const direct = await browser.fetch(`${gh.url}/.gatehouse/login?rd=/corp/runs`);
    expect(direct.status).toBe(302);
    expect(direct.location!.startsWith(idp.issuer)).toBe(true);
    const refused = await browser.fetch(`${gh.url}/.gatehouse/login?rd=/corp/runs&idp=partner`, {
      headers: { accept: 'application/json' },
    });
    expect(refused.status).toBe(400);
    // The partner IdP does not answer (nothing listens on port 9): a clear 503, not a crash.
    const down = await browser.fetch(`${gh.url}/.gatehouse/login?rd=/x&idp=partner`);
    expect(down.status).toBe(503);
    expect(down.body).toContain('identity provider cannot be reached');
  });

  it('starts even when the IdP is down, and signs in once it answers', async () => {
    const up = await startUpstream();
    const idpPort = await freePort();
    const ghPort = await freePort();
    const gh = await startTestGatehouse({
      log_level: 'silent',
      server: { listen: `127.0.0.1:${ghPort}`, public_url: `http://127.0.0.1:${ghPort}` },
      admin: { listen: '127.0.0.1:0' },
      session: { secret: 'oidc-test-session-secret-0123456789abcdef', cookie: { secure: false } },
      identity_providers: [
        {
          id: 'corp',
          type: 'oidc',
          issuer: `http://127.0.0.1:${idpPort}`,
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          scopes: ['openid', 'email', 'groups'],
        },
      ],
      routes: [{ name: 'app', upstream: up.url, allow: { authenticated: true } }],
    });
    const browser = new TestBrowser();
    const down = await browser.fetch(`${gh.url}/.gatehouse/login?rd=/`, { headers: { accept: 'application/json' } });
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body).error).toBe('GH_IDP_UNAVAILABLE');
    const idp = await startDemoIdp({
      port: idpPort,
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${gh.url}/.gatehouse/oidc/corp/callback`] }],
    });
    try {
      // Discovery retries with backoff (1 s, 2 s, ...).
      await expect
        .poll(async () => (await browser.fetch(`${gh.url}/.gatehouse/login?rd=/`)).status, { timeout: 10_000, interval: 500 })
        .toBe(302);
      const page = await browser.go(`${gh.url}/`, USERS.alice);
      expect(page.status).toBe(200);
    } finally {
      await idp.close();
    }
  });
});

describe('client authentication', () => {
  it('uses client_secret_post when configured (the IdP accepts nothing else for this client)', async () => {
    const up = await startUpstream();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const idp = await startDemoIdp({
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${url}/.gatehouse/oidc/corp/callback`],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
    });
    onTestFinished(() => idp.close());
    const gh = await startTestGatehouse({
      log_level: 'silent',
      server: { listen: `127.0.0.1:${port}`, public_url: url },
      admin: { listen: '127.0.0.1:0' },
      session: { secret: 'oidc-test-session-secret-0123456789abcdef', cookie: { secure: false } },
      identity_providers: [
        {
          id: 'corp',
          type: 'oidc',
          issuer: idp.issuer,
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      routes: [{ name: 'app', upstream: up.url, allow: { authenticated: true } }],
    });
    await gh.current().providers.oidc.get('corp')!.ready();
    const browser = new TestBrowser();
    const page = await browser.go(`${gh.url}/`, USERS.alice);
    expect(page.status).toBe(200);
    expect(browser.jar.get(gh.url, 'gatehouse')).toBeDefined();
  });
});
