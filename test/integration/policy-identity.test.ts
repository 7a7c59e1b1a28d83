// Policy and identity end to end, against real servers on 127.0.0.1 (the demo IdP, Gatehouse, an
// upstream HTTP + WebSocket echo): the 403 page and JSON, forged identity headers in every
// spelling, the signed assertion checked with jose as an upstream would, the session cookie kept
// from the upstream, send_groups / roles, max_header_bytes, bearer tokens, browser vs API client,
// WebSocket authorisation and Origin checks, and pass_access_token.
import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import WebSocket from 'ws';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson, rawRequest } from '../support/http.ts';
import { idpSigningKey, startOidcSetup, USERS } from '../support/oidc.ts';
import type { StartedGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream, type SeenRequest } from '../support/upstream.ts';

const COOKIE = 'gatehouse';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
/** What a real browser sends for a top-level page load. */
const NAV = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'user-agent': 'Mozilla/5.0 (policy-identity test)',
};

/** Sign `user` in through the real demo IdP, starting at `start`; returns the session cookie value. */
async function signIn(gh: StartedGatehouse, user: keyof typeof USERS, start = '/'): Promise<string> {
  const browser = new TestBrowser();
  const page = await browser.go(`${gh.url}${start}`, USERS[user]);
  expect(page.status, page.body).toBe(200);
  const cookie = browser.jar.get(gh.url, COOKIE);
  expect(cookie).toBeDefined();
  return cookie!;
}

/** The upstream's raw header pairs, exactly as they arrived (no joining, original case). */
function pairs(s: SeenRequest): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < s.rawHeaders.length; i += 2) out.push([s.rawHeaders[i]!, s.rawHeaders[i + 1]!]);
  return out;
}

/** Header name as a WSGI/CGI upstream reads it: case-insensitive, "_" = "-". */
const norm = (name: string) => name.toLowerCase().replace(/_/g, '-');

/** Every raw value the upstream received under `name` (any case or underscore spelling). */
function valuesNamed(s: SeenRequest, name: string): string[] {
  return pairs(s).filter(([n]) => norm(n) === name).map(([, v]) => v);
}

/** No header at the upstream carries the forged value, alone or inside a joined list. */
function expectNoForged(s: SeenRequest, forged: string): void {
  for (const [n, v] of pairs(s)) {
    expect(v.split(',').map((x) => x.trim()), `${n}: ${v} reached the upstream`).not.toContain(forged);
  }
}

function seenAt(seen: readonly SeenRequest[], url: string): SeenRequest {
  const hit = seen.find((s) => s.url === url);
  expect(hit, `upstream never saw ${url}`).toBeDefined();
  return hit!;
}

function rawGet(gh: StartedGatehouse, path: string, lines: readonly string[]) {
  return rawRequest(gh.url, [`GET ${path} HTTP/1.1`, `host: ${new URL(gh.url).host}`, 'accept: application/json', ...lines].join('\r\n'));
}

describe('403 for a user outside the route\'s groups', () => {
  it('lets alice in; shows bob a 403 page naming the route, the group and the request id; gives API clients JSON', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      routes: [
        { name: 'model-registry', path: '/admin', upstream: up.url, allow: { groups: ['ml-admins'] } },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    // alice (ml-admins) signs in straight at the protected path and lands there.
    const alice = new TestBrowser();
    const page = await alice.go(`${gh.url}/admin/x`, USERS.alice);
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${gh.url}/admin/x`);
    expect(seenAt(up.seen, '/admin/x').headers['x-forwarded-user']).toBe(ALICE);

    // bob (labelers) is signed in, but not in ml-admins.
    const bob = new TestBrowser();
    expect((await bob.go(`${gh.url}/`, USERS.bob)).status).toBe(200);
    const before = up.seen.length;
    const html = await bob.fetch(`${gh.url}/admin/x?q=1`);
    expect(html.status).toBe(403);
    expect(String(html.headers['content-type'])).toMatch(/^text\/html/);
    const rid = String(html.headers['x-request-id']);
    expect(rid).toMatch(/^[0-9a-f-]{36}$/);
    expect(html.body).toContain('model-registry');
    expect(html.body).toContain('ml-admins');
    expect(html.body).toContain(rid);
    // Nothing about anybody else: not alice, not the other groups on the route's users.
    expect(html.body).not.toContain('alice');
    expect(html.body).not.toContain('data-scientists');

    const cookie = bob.jar.get(gh.url, COOKIE)!;
    const api = await getJson(`${gh.url}/admin/x`, { cookie: `${COOKIE}=${cookie}` });
    expect(api.status).toBe(403);
    expect(String(api.headers['content-type'])).toMatch(/^application\/json/);
    expect(api.body).toMatchObject({ error: 'GH_FORBIDDEN', status: 403, route: 'model-registry', groups: ['ml-admins'] });
    expect(api.body.request_id).toBe(api.headers['x-request-id']);
    expect(JSON.stringify(api.body)).not.toContain('alice');
    // The upstream never heard of either 403.
    expect(up.seen.length).toBe(before);
  });
});

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

  it('strips a route\'s custom identity header name (Remote-User) on every route', async () => {
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
      .setIssuer(publicUrl).setAudience(up.url).setSubject('admin@example.com').setIssuedAt().setExpirationTime('5m')
      .sign(attacker.privateKey);
    const r = await rawGet(gh, '/admin/assert', [`cookie: ${COOKIE}=${alice}`, `X-Gatehouse-Assertion: ${forged}`, `X_Gatehouse_Assertion: ${forged}`]);
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
  it('is removed from Cookie while the upstream\'s own cookies pass', async () => {
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
        { name: 'mlflow', path: '/', upstream: up.url, allow: { groups: ['ml-admins'] }, send_groups: 'policy', roles: { 'ml-admins': 'admin', 'data-scientists': 'editor' } },
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

describe('bearer tokens', () => {
  type IdpKey = Awaited<ReturnType<typeof idpSigningKey>>;

  const claims = (o: Partial<JWTPayload> = {}): JWTPayload => ({ email: 'svc-1@example.com', groups: ['ml-admins'], ...o });

  async function mint(key: IdpKey, iss: string, o: { aud?: string; exp?: number; iat?: number; payload?: JWTPayload; signWith?: CryptoKey | Uint8Array; alg?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(o.payload ?? claims())
      .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: key.kid, typ: 'JWT' })
      .setIssuer(iss)
      .setAudience(o.aud ?? 'mlflow-api')
      .setSubject('svc-1')
      .setIssuedAt(o.iat ?? now)
      .setExpirationTime(o.exp ?? now + 300)
      .sign(o.signWith ?? key.privateKey);
  }

  /** Change one character in the middle of a base64url segment (never the padding bits at its end). */
  function flip(segment: string): string {
    const i = Math.floor(segment.length / 2);
    return segment.slice(0, i) + (segment[i] === 'A' ? 'B' : 'A') + segment.slice(i + 1);
  }

  it('accepts a valid IdP-signed JWT and refuses every bad one with 401 invalid_token', async () => {
    const up = await startUpstream();
    const key = await idpSigningKey();
    const { gh, idp } = await startOidcSetup(up.url, { provider: { bearer_audiences: ['mlflow-api'] }, idp: { jwks: key.jwks } });
    const call = (path: string, token?: string) =>
      getJson(`${gh.url}${path}`, token === undefined ? {} : { authorization: `Bearer ${token}` });

    const good = await mint(key, idp.issuer);
    const ok = await call('/admin/ok', good);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const s = seenAt(up.seen, '/admin/ok');
    expect(valuesNamed(s, 'x-forwarded-user')).toEqual(['svc-1@example.com']);
    expect(valuesNamed(s, 'x-forwarded-groups')).toEqual(['ml-admins']);

    const now = Math.floor(Date.now() / 1000);
    const [h, p, sig] = good.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), email: 'root@example.com' })).toString('base64url');
    const modulus = Buffer.from((key.jwks.keys[0] as { n: string }).n, 'base64url');
    const bad: Record<string, string> = {
      'tampered signature': `${h}.${p}.${flip(sig)}`,
      'tampered payload': `${h}.${forgedPayload}.${sig}`,
      'wrong audience': await mint(key, idp.issuer, { aud: 'some-other-api' }),
      expired: await mint(key, idp.issuer, { iat: now - 1200, exp: now - 600 }),
      'alg none': new UnsecuredJWT(claims()).setIssuer(idp.issuer).setAudience('mlflow-api').setSubject('svc-1').setIssuedAt().setExpirationTime('5m').encode(),
      'HS256 with the public modulus as secret': await mint(key, idp.issuer, { alg: 'HS256', signWith: modulus }),
      'HS256 with a random secret': await mint(key, idp.issuer, { alg: 'HS256', signWith: new Uint8Array(32).fill(7) }),
      'unknown issuer': await mint(key, 'https://idp.evil.example'),
      'not a JWT': 'not-a-jwt',
    };
    for (const [why, token] of Object.entries(bad)) {
      const r = await call(`/admin/${encodeURIComponent(why)}`, token);
      expect(r.status, why).toBe(401);
      expect(r.body.error, why).toBe('GH_BAD_TOKEN');
      expect(r.headers['www-authenticate'], why).toBe('Bearer error="invalid_token"');
    }
    // Without any credentials, an API client is asked for a bearer token.
    const none = await call('/admin/none');
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('GH_UNAUTHENTICATED');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    // Only the good token ever reached the upstream.
    expect(up.seen.filter((x) => x.url.startsWith('/admin/')).map((x) => x.url)).toEqual(['/admin/ok']);
  });
});

describe('browser or API client', () => {
  const login = (rd: string) => `/.gatehouse/login?rd=${encodeURIComponent(rd)}`;

  async function setup() {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, {
      routes: [{ name: 'mlflow', path: '/', upstream: up.url, allow: { groups: ['ml-admins'] }, api_paths: ['/api/**'] }],
    });
    const send = async (path: string, headers: Record<string, string>, method: 'GET' | 'POST' = 'GET', body?: string) => {
      const res = await request(`${gh.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    };
    return { up, gh, send };
  }

  it('redirects a page load to sign-in (302) with the return path', async () => {
    const { up, send } = await setup();
    const nav = await send('/experiments/7?tab=runs', NAV);
    expect(nav.status).toBe(302);
    expect(nav.headers.location).toBe(login('/experiments/7?tab=runs'));
    // A page next to api_paths, but outside it, is still a page.
    const apix = await send('/apix', NAV);
    expect(apix.status).toBe(302);
    expect(apix.headers.location).toBe(login('/apix'));
    expect(up.seen).toHaveLength(0);
  });

  it('answers a POSTed form navigation with 303 to sign-in', async () => {
    const { up, send } = await setup();
    const form = await send('/experiments/7/delete', { ...NAV, 'content-type': 'application/x-www-form-urlencoded' }, 'POST', 'confirm=1');
    expect(form.status).toBe(303);
    expect(form.headers.location).toBe(login('/experiments/7/delete'));
    expect(up.seen).toHaveLength(0);
  });

  // Every row looks like a browser in all but one respect (or asks for JSON outright): each is an
  // API client and must get 401 JSON, never a redirect and never an HTML page.
  // The X-Requested-With, Sec-Fetch-Mode: cors and api_paths rows FAIL today (src bug, reported):
  // the status is right (401, no redirect), but the body follows Accept (HTML).
  it.each([
    ['X-Requested-With: XMLHttpRequest', '/experiments/7', { ...NAV, 'x-requested-with': 'XMLHttpRequest' }],
    ['Sec-Fetch-Mode: cors', '/experiments/7', { ...NAV, 'sec-fetch-mode': 'cors' }],
    ['Accept: application/json', '/experiments/7', { accept: 'application/json' }],
    ['Accept: application/json, text/html;q=0.5', '/experiments/7', { accept: 'application/json, text/html;q=0.5' }],
    ['a path in api_paths with browser headers', '/api/2.0/mlflow/runs/get?run_id=1', NAV],
    ['the api_paths prefix itself with browser headers', '/api', NAV],
  ] as const)('%s → 401 JSON', async (why, path, headers) => {
    const { up, send } = await setup();
    const r = await send(path, { ...headers });
    expect(r.status, why).toBe(401);
    expect(r.headers.location, why).toBeUndefined();
    expect(r.headers['www-authenticate'], why).toBe('Bearer');
    expect(String(r.headers['content-type']), `${why}: ${r.text.slice(0, 60)}`).toMatch(/^application\/json/);
    expect(JSON.parse(r.text), why).toMatchObject({ error: 'GH_UNAUTHENTICATED', status: 401, route: 'mlflow' });
    expect(up.seen).toHaveLength(0);
  });

  // FAILS today (same src bug): api_paths promise "401/403 JSON"; the 403 comes as HTML.
  it('answers a signed-in user without access on api_paths with 403 JSON even from a browser', async () => {
    const { up, gh, send } = await setup();
    const browser = new TestBrowser();
    expect((await browser.go(`${gh.url}/`, USERS.bob)).status).toBe(403);
    const bob = browser.jar.get(gh.url, COOKIE)!;
    expect(bob).toBeDefined();
    const r = await send('/api/2.0/mlflow/experiments/list', { ...NAV, cookie: `${COOKIE}=${bob}` });
    expect(r.status).toBe(403);
    expect(String(r.headers['content-type']), r.text.slice(0, 60)).toMatch(/^application\/json/);
    expect(JSON.parse(r.text)).toMatchObject({ error: 'GH_FORBIDDEN', route: 'mlflow', groups: ['ml-admins'] });
    // The same request outside api_paths gets the HTML page.
    const page = await send('/experiments', { ...NAV, cookie: `${COOKIE}=${bob}` });
    expect(page.status).toBe(403);
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    expect(up.seen).toHaveLength(0);
  });
});

describe('WebSocket authorisation', () => {
  interface Attempt {
    readonly status: number;
    readonly body?: string;
    readonly hello?: { hello: string; headers: Record<string, string | string[] | undefined> };
  }

  /** Try an upgrade: 101 with the upstream's greeting, or the refusal's status and body. */
  function attempt(url: string, headers: Record<string, string>): Promise<Attempt> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      // The greeting may arrive together with the 101: listen before 'open'.
      ws.once('message', (d) => {
        resolve({ status: 101, hello: JSON.parse(String(d)) });
        ws.close();
      });
      ws.on('error', (err) => reject(err));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
  }

  it('authorises the upgrade and checks its Origin before anything reaches the upstream', async () => {
    const up = await startUpstream();
    const upgrades: string[] = [];
    up.server.on('upgrade', (req) => upgrades.push(req.url ?? ''));
    const { gh } = await startOidcSetup(up.url, {
      routes: [
        { name: 'notebooks', path: '/nb', upstream: up.url, allow: { groups: ['ml-admins'] }, allowed_origins: ['https://notebooks.corp.example'] },
        { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
      ],
    });
    const [alice, bob] = await Promise.all([signIn(gh, 'alice'), signIn(gh, 'bob')]);
    const wsUrl = `${gh.url.replace(/^http/, 'ws')}/nb/api/kernels/k1/channels`;
    const json = { accept: 'application/json' };

    const denied = await attempt(wsUrl, { ...json, cookie: `${COOKIE}=${bob}` });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body!)).toMatchObject({ error: 'GH_FORBIDDEN', route: 'notebooks', groups: ['ml-admins'] });
    expect(upgrades).toEqual([]);

    const anon = await attempt(wsUrl, json);
    expect(anon.status).toBe(401);
    expect(upgrades).toEqual([]);

    const ok = await attempt(`${wsUrl}?n=1`, { ...json, cookie: `${COOKIE}=${alice}`, 'X-Forwarded-User': 'admin', 'X_Forwarded_User': 'admin', 'X-Gatehouse-Assertion': 'forged' });
    expect(ok.status).toBe(101);
    expect(ok.hello!.hello).toBe('/nb/api/kernels/k1/channels?n=1');
    expect(ok.hello!.headers['x-forwarded-user']).toBe(ALICE);
    expect(ok.hello!.headers['x_forwarded_user']).toBeUndefined();
    expect(ok.hello!.headers['x-gatehouse-assertion']).not.toBe('forged');
    expect(String(ok.hello!.headers.cookie ?? '')).not.toContain(alice);

    const evil = await attempt(`${wsUrl}?n=2`, { ...json, cookie: `${COOKIE}=${alice}`, origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body!).error).toBe('GH_FORBIDDEN');

    const own = await attempt(`${wsUrl}?n=3`, { ...json, cookie: `${COOKIE}=${alice}`, origin: gh.url });
    expect(own.status).toBe(101);
    expect(own.hello!.headers['x-forwarded-user']).toBe(ALICE);

    const listed = await attempt(`${wsUrl}?n=4`, { ...json, cookie: `${COOKIE}=${alice}`, origin: 'https://notebooks.corp.example' });
    expect(listed.status).toBe(101);

    // Exactly alice's three allowed upgrades reached the upstream.
    expect(upgrades).toEqual(['/nb/api/kernels/k1/channels?n=1', '/nb/api/kernels/k1/channels?n=3', '/nb/api/kernels/k1/channels?n=4']);
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
