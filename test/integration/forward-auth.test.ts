// Forward-auth mode with a real nginx (Debian nginx-light) in front: nginx asks Gatehouse about
// each request with auth_request, copies the identity header to the upstream, and sends browsers
// without a session to Gatehouse's sign-in page.
import { describe, expect, it, onTestFinished } from 'vitest';
import { request } from 'undici';
import { startDemoIdp } from '../../src/demo/idp.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { CLIENT_ID, CLIENT_SECRET, USERS } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import { startNginx as startRealNginx } from '../support/nginx.ts';
import { startUpstream } from '../support/upstream.ts';

/** nginx for one test, stopped when it finishes. */
async function startNginx(conf: (port: number) => string, port?: number): Promise<string> {
  const nginx = await startRealNginx(conf, port);
  onTestFinished(() => nginx.stop());
  return nginx.url;
}

describe('forward-auth with nginx auth_request', () => {
  it('lets nginx protect an upstream: sign-in redirect, identity header, 403 for the wrong group', async () => {
    const app = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', trusted_proxies: ['127.0.0.1'] },
      forward_auth: { headers: 'original_url' },
      session: { secret: 'forward-auth-session-secret-0123456789abcdef', cookie: { secure: false } },
      // The upstream is nginx's business in this mode; the route carries the policy.
      routes: [
        { name: 'app-admin', path: '/admin', upstream: app.url, allow: { groups: ['ml-admins'] } },
        { name: 'app', upstream: app.url, allow: { authenticated: true }, rules: [{ path: '/health', public: true }] },
      ],
    });
    const gatehouse = new URL(gh.url).host;
    const nginx = await startNginx(
      (port) => `server {
      listen 127.0.0.1:${port};
      location = /_gatehouse_auth {
        internal;
        proxy_pass http://${gatehouse}/.gatehouse/auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URL $scheme://$host:$server_port$request_uri;
        proxy_set_header X-Original-Method $request_method;
      }
      location /.gatehouse/ { proxy_pass http://${gatehouse}; proxy_set_header Host $http_host; }
      location / {
        auth_request /_gatehouse_auth;
        auth_request_set $gh_user $upstream_http_x_forwarded_user;
        auth_request_set $gh_groups $upstream_http_x_forwarded_groups;
        auth_request_set $gh_signin $upstream_http_x_gatehouse_signin;
        proxy_set_header X-Forwarded-User $gh_user;
        proxy_set_header X-Forwarded-Groups $gh_groups;
        proxy_pass ${app.url};
        error_page 401 = @signin;
      }
      location @signin { return 302 $gh_signin; }
    }`,
    );

    // A client cannot steer the decision with headers of its own: forward_auth reads only
    // X-Original-URL, which nginx sets.
    const spoofed = await request(`${nginx}/secret`, {
      headers: { 'x-forwarded-host': '127.0.0.1', 'x-forwarded-uri': '/health', 'x-original-url': `${nginx}/health` },
    });
    await spoofed.body.text();
    expect(spoofed.statusCode).toBe(302);
    expect(String(spoofed.headers.location)).toContain('/.gatehouse/login?rd=');
    expect(app.seen).toHaveLength(0);

    // No session: nginx sends the browser to Gatehouse's sign-in page for this URL.
    const anon = await request(`${nginx}/experiments?x=1`);
    await anon.body.text();
    expect(anon.statusCode).toBe(302);
    expect(anon.headers.location).toBe(`${nginx}/.gatehouse/login?rd=${encodeURIComponent(`${nginx}/experiments?x=1`)}`);
    expect(app.seen).toHaveLength(0);
    // A public rule passes without a session.
    expect((await getJson(`${nginx}/health`)).status).toBe(200);

    const bob = await gh
      .current()
      .sessions.create({ user: 'bob@example.com', email: 'bob@example.com', groups: ['labelers'], idp: 't', method: 't' });
    const alice = await gh
      .current()
      .sessions.create({ user: 'alice@example.com', email: 'alice@example.com', groups: ['ml-admins'], idp: 't', method: 't' });
    const asBob = { cookie: `gatehouse=${bob.cookieValue}` };
    const ok = await getJson(`${nginx}/experiments`, { ...asBob, 'x-forwarded-user': 'forged-admin' });
    expect(ok.status).toBe(200);
    const seen = app.seen.at(-1)!;
    expect(seen.headers['x-forwarded-user']).toBe('bob@example.com');
    expect(seen.headers['x-forwarded-groups']).toBe('labelers');
    // Wrong group for /admin: 403 from nginx, the app never sees it.
    const before = app.seen.length;
    expect((await getJson(`${nginx}/admin/settings`, asBob)).status).toBe(403);
    expect(app.seen.length).toBe(before);
    expect((await getJson(`${nginx}/admin/settings`, { cookie: `gatehouse=${alice.cookieValue}` })).status).toBe(200);
  });

  it('answers only trusted ingresses, only when enabled, only about served hosts, and tells Traefik-style ingresses where to sign in', async () => {
    const app = await startUpstream();
    const off = await startTestGatehouse({
      ...baseConfig(app.url),
      routes: [{ name: 'app', upstream: app.url, allow: { authenticated: true } }],
    });
    expect((await getJson(`${off.url}/.gatehouse/auth`, { 'x-original-url': 'https://app.example/x' })).status).toBe(404);
    const untrustedCfg = {
      ...baseConfig(app.url),
      server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', trusted_proxies: ['10.9.9.9'] },
      forward_auth: { headers: 'original_url' },
      routes: [{ name: 'app', host: 'app.example', upstream: app.url, allow: { authenticated: true } }],
    };
    const untrusted = await startTestGatehouse(untrustedCfg);
    expect((await getJson(`${untrusted.url}/.gatehouse/auth`, { 'x-original-url': 'https://app.example/x' })).status).toBe(403);

    const trusted = await startTestGatehouse({
      ...baseConfig(app.url),
      server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', trusted_proxies: ['127.0.0.0/8'] },
      forward_auth: { headers: 'forwarded' },
      routes: [{ name: 'app', host: 'app.example', upstream: app.url, allow: { authenticated: true } }],
    });
    const r = await request(`${trusted.url}/.gatehouse/auth?redirect=1`, {
      headers: {
        'x-forwarded-method': 'GET',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'app.example',
        'x-forwarded-uri': '/runs?id=1',
        accept: 'text/html',
        'sec-fetch-mode': 'navigate',
      },
    });
    await r.body.text();
    expect(r.statusCode).toBe(302);
    expect(r.headers.location).toBe(`https://app.example/.gatehouse/login?rd=${encodeURIComponent('https://app.example/runs?id=1')}`);
    const fwd = { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' };
    const api = await getJson(`${trusted.url}/.gatehouse/auth`, { ...fwd, 'x-forwarded-uri': '/a%2Fb' });
    expect(api.status).toBe(400);
    expect(api.body.error).toBe('GH_BAD_PATH');
    // Nothing is guessed: without the method (or the scheme) there is no request to judge.
    const noMethod = await getJson(`${trusted.url}/.gatehouse/auth`, {
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example',
      'x-forwarded-uri': '/runs',
    });
    expect(noMethod.status).toBe(400);
    expect(noMethod.body.error).toBe('GH_BAD_REQUEST');
    // Gatehouse's own paths are not judged for the ingress: it sends them to Gatehouse directly.
    const own = await getJson(`${trusted.url}/.gatehouse/auth`, { ...fwd, 'x-forwarded-uri': '/.gatehouse/login' });
    expect(own.status).toBe(403);
    expect(own.body.error).toBe('GH_FORBIDDEN');
    // The host is parsed like Gatehouse's own Host: case folded, escapes refused.
    const folded = await getJson(`${trusted.url}/.gatehouse/auth`, {
      ...fwd,
      'x-forwarded-host': 'App.Example',
      'x-forwarded-uri': '/runs',
    });
    expect(folded.status).toBe(401);
    expect(folded.headers['x-gatehouse-signin']).toBe(
      `https://app.example/.gatehouse/login?rd=${encodeURIComponent('https://app.example/runs')}`,
    );
    const escaped = await getJson(`${trusted.url}/.gatehouse/auth`, {
      ...fwd,
      'x-forwarded-host': 'app.ex%61mple',
      'x-forwarded-uri': '/runs',
    });
    expect(escaped.status).toBe(400);
    expect(escaped.body.error).toBe('GH_BAD_HOST');
    // Not a served host (would be an open redirect), not http(s), or the other header set: refused.
    const evil = await request(`${trusted.url}/.gatehouse/auth?redirect=1`, {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-uri': '/x', accept: 'text/html' },
    });
    await evil.body.text();
    expect(evil.statusCode).toBe(400);
    expect(evil.headers.location).toBeUndefined();
    expect(
      (
        await getJson(`${trusted.url}/.gatehouse/auth`, {
          'x-forwarded-proto': 'foo',
          'x-forwarded-host': 'app.example',
          'x-forwarded-uri': '/x',
        })
      ).status,
    ).toBe(400);
    expect((await getJson(`${trusted.url}/.gatehouse/auth`, { 'x-original-url': 'https://app.example/x' })).status).toBe(400);
  });
  it('signs a browser in through nginx and the IdP end to end, then lets nginx serve it', async () => {
    const app = await startUpstream();
    const nginxPort = await freePort();
    const site = `http://127.0.0.1:${nginxPort}`;
    const idp = await startDemoIdp({
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${site}/.gatehouse/oidc/corp/callback`],
          post_logout_redirect_uris: [`${site}/.gatehouse/logout`],
        },
      ],
    });
    onTestFinished(() => idp.close());
    const gh = await startTestGatehouse({
      ...baseConfig(),
      // The site users see is nginx's: callbacks and return URLs are on it.
      server: { listen: '127.0.0.1:0', public_url: site, trusted_proxies: ['127.0.0.1'], shutdown_timeout: '2s' },
      forward_auth: { headers: 'original_url' },
      session: { secret: 'forward-auth-session-secret-0123456789abcdef', cookie: { secure: false } },
      identity_providers: [
        {
          id: 'corp',
          type: 'oidc',
          issuer: idp.issuer,
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          scopes: ['openid', 'email', 'profile', 'groups'],
        },
      ],
      routes: [
        { name: 'app-admin', path: '/admin', upstream: app.url, allow: { groups: ['ml-admins'] } },
        { name: 'app', upstream: app.url, allow: { authenticated: true } },
      ],
    });
    await gh.current().providers.oidc.get('corp')!.ready();
    const gatehouse = new URL(gh.url).host;
    await startNginx(
      (port) => `server {
      listen 127.0.0.1:${port};
      location = /_gatehouse_auth {
        internal;
        proxy_pass http://${gatehouse}/.gatehouse/auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URL $scheme://$host:$server_port$request_uri;
        proxy_set_header X-Original-Method $request_method;
      }
      location /.gatehouse/ { proxy_pass http://${gatehouse}; proxy_set_header Host $http_host; proxy_set_header X-Forwarded-Host $http_host; }
      location / {
        auth_request /_gatehouse_auth;
        auth_request_set $gh_user $upstream_http_x_forwarded_user;
        auth_request_set $gh_signin $upstream_http_x_gatehouse_signin;
        proxy_set_header X-Forwarded-User $gh_user;
        proxy_pass ${app.url};
        error_page 401 = @signin;
      }
      location @signin { return 302 $gh_signin; }
    }`,
      nginxPort,
    );

    const browser = new TestBrowser();
    const page = await browser.go(`${site}/experiments?id=7`, USERS.bob);
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${site}/experiments?id=7`);
    const hops = page.hops.map((h) => h.url);
    // nginx → sign-in on the site (answered by Gatehouse through nginx) → IdP → callback through
    // nginx → back where the browser started, now served by nginx.
    expect(hops[1]).toBe(`${site}/.gatehouse/login?rd=${encodeURIComponent(`${site}/experiments?id=7`)}`);
    expect(new URL(hops[2]!).origin).toBe(idp.issuer);
    expect(hops.some((h) => h.startsWith(`${site}/.gatehouse/oidc/corp/callback?`))).toBe(true);
    expect(app.seen.at(-1)!.url).toBe('/experiments?id=7');
    expect(app.seen.at(-1)!.headers['x-forwarded-user']).toBe('bob@example.com');
    // Signed in, but not an admin: nginx answers 403 and the app never sees it.
    const before = app.seen.length;
    expect((await browser.fetch(`${site}/admin/settings`)).status).toBe(403);
    expect(app.seen.length).toBe(before);
  });
  it('compares canonical hosts: wildcard route hosts, an IPv6 public_url, names that cannot be parsed', async () => {
    const app = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(app.url),
      server: { listen: '127.0.0.1:0', public_url: 'http://[::1]:4180', trusted_proxies: ['127.0.0.0/8'] },
      forward_auth: { headers: 'original_url' },
      routes: [
        { name: 'tools', host: '*.Tools.Example', upstream: app.url, allow: { public: true } },
        { name: 'any', upstream: app.url, allow: { public: true } },
      ],
    });
    const ask = async (url: string) =>
      (await getJson(`${gh.url}/.gatehouse/auth`, { 'x-original-url': url, 'x-original-method': 'GET' })).status;
    expect(await ask('http://mlflow.tools.example/x')).toBe(200);
    expect(await ask('http://MLFLOW.Tools.Example:8080/x')).toBe(200);
    expect(await ask('http://[::1]/x')).toBe(200);
    expect(await ask('http://[::1]:4180/x')).toBe(200);
    // The wildcard's own base, other spellings of the names, and names that are not served.
    for (const url of [
      'http://tools.example/x',
      'http://a.tools.example./x',
      'http://a.tools.ex%61mple/x',
      'http://[0:0::1]/x',
      'http://127.0.0.1/x',
      'http://xtools.example/x',
    ]) {
      expect(await ask(url), url).toBe(400);
    }
  });
});
