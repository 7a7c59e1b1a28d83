// Sessions end to end against a real Redis: two Gatehouse instances sharing it (as two replicas
// would), revocation through the admin API, idle and absolute timeouts in real time, live
// connections following their session, logout, and a Redis outage.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import WebSocket from 'ws';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { getJson } from '../support/http.ts';
import { redisUrl, startOwnRedis, uniquePrefix } from '../support/redis.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const ADMIN_TOKEN = 'admin-token-for-session-tests';
const SECRET = 'session-secret-for-tests-0123456789abcdef';
const ALICE = {
  user: 'alice@corp.example',
  email: 'alice@corp.example',
  name: 'Alice',
  groups: ['ml-admins', 'data-scientists'],
  idp: 'corp',
  method: 'test',
};

interface Options {
  readonly url?: string;
  readonly prefix?: string;
  readonly idle?: string;
  readonly absolute?: string;
  readonly store?: 'memory' | 'redis';
}

function config(up: TestUpstream, o: Options = {}) {
  return {
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    session: {
      store: o.store ?? 'redis',
      ...(o.store === 'memory'
        ? {}
        : { redis: { url: o.url ?? redisUrl(), key_prefix: o.prefix ?? uniquePrefix(), command_timeout: '500ms' } }),
      secret: SECRET,
      cookie: { secure: false },
      idle_timeout: o.idle ?? '30m',
      absolute_timeout: o.absolute ?? '12h',
    },
    routes: [
      { name: 'public', path: '/public', upstream: up.url, allow: { public: true } },
      { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
    ],
  };
}

/** Two replicas sharing one Redis and key prefix. */
async function twoReplicas(up: TestUpstream, o: Options = {}): Promise<[StartedGatehouse, StartedGatehouse]> {
  const prefix = uniquePrefix();
  return Promise.all([startTestGatehouse(config(up, { ...o, prefix })), startTestGatehouse(config(up, { ...o, prefix }))]);
}

async function signIn(gh: StartedGatehouse, who = ALICE): Promise<{ cookie: string; key: string }> {
  const s = await gh.current().sessions.create(who);
  return { cookie: `gatehouse=${s.cookieValue}`, key: s.key };
}

const browser = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate' };
const admin = (gh: StartedGatehouse, method: 'GET' | 'DELETE', path: string) =>
  request(`${gh.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then(async (r) => ({
    status: r.statusCode,
    body: (await r.body.json()) as any,
  }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openWs(url: string, cookie: string): Promise<{ ws: WebSocket; closed: Promise<number>; greeted: Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie } });
    const closed = new Promise<number>((r) => ws.once('close', () => r(Date.now())));
    // The upstream greets at once; listen before 'open' so the greeting cannot slip by.
    const greeted = new Promise((r) => ws.once('message', r));
    ws.once('open', () => resolve({ ws, closed, greeted }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`unexpected ${res.statusCode}`)));
  });
}

describe('sessions shared by two replicas', () => {
  it('a session made on one replica works on the other, and the cookie never reaches the upstream', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const { cookie } = await signIn(a);
    const r = await getJson(`${b.url}/echo`, { cookie: `_xsrf=abc; ${cookie}; mlflow=xyz` });
    expect(r.status).toBe(200);
    expect(up.seen[0]!.headers.cookie).toBe('_xsrf=abc; mlflow=xyz');
    const me = await getJson(`${b.url}/.gatehouse/userinfo`, { cookie });
    expect(me.body).toMatchObject({ user: 'alice@corp.example', groups: ['ml-admins', 'data-scientists'], idp: 'corp' });
  });

  it('without a session: browsers are redirected to sign-in, API clients get 401, public routes work', async () => {
    const up = await startUpstream();
    const [a] = await twoReplicas(up);
    const nav = await request(`${a.url}/experiments/1?tab=runs`, { headers: browser });
    expect(nav.statusCode).toBe(302);
    expect(nav.headers.location).toBe(`/.gatehouse/login?rd=${encodeURIComponent('/experiments/1?tab=runs')}`);
    const api = await getJson(`${a.url}/api/2.0/runs`);
    expect(api.status).toBe(401);
    expect(api.body.error).toBe('GH_UNAUTHENTICATED');
    expect((await getJson(`${a.url}/public/x`)).status).toBe(200);
    const forged = await getJson(`${a.url}/x`, { cookie: `gatehouse=${'A'.repeat(43)}.${'B'.repeat(22)}` });
    expect(forged.status).toBe(401);
    expect(forged.headers['set-cookie']).toContain('gatehouse=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    expect(up.seen.map((s) => s.url)).toEqual(['/public/x']);
  });

  it('DELETE /admin/users/<user>/sessions on one replica ends the next request on the other', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const s1 = await signIn(a);
    const s2 = await signIn(b);
    const bob = await signIn(a, { ...ALICE, user: 'bob', email: 'bob@corp.example' });
    // Warm B's local cache so revocation must actively invalidate it.
    expect((await getJson(`${b.url}/x`, { cookie: s1.cookie })).status).toBe(200);

    const listed = await admin(a, 'GET', `/admin/sessions?user=${encodeURIComponent(ALICE.user)}`);
    expect(listed.body.sessions.map((s: { id: string }) => s.id).sort()).toEqual([s1.key, s2.key].sort());
    const del = await admin(a, 'DELETE', `/admin/users/${encodeURIComponent(ALICE.user)}/sessions`);
    expect(del.body).toEqual({ user: ALICE.user, revoked: 2, tokens_revoked: 0 });

    const after = await request(`${b.url}/x`, { headers: { ...browser, cookie: s1.cookie } });
    expect(after.statusCode).toBe(302);
    expect(String(after.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await getJson(`${a.url}/x`, { cookie: s2.cookie })).status).toBe(401);
    expect((await getJson(`${b.url}/x`, { cookie: bob.cookie })).status).toBe(200);
    expect((await admin(a, 'GET', `/admin/sessions?user=${encodeURIComponent(ALICE.user)}`)).body.sessions).toEqual([]);
  });

  it('DELETE /admin/sessions/<id> revokes one session; the admin API needs the token', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const s1 = await signIn(a);
    const s2 = await signIn(a);
    expect((await getJson(`${a.adminUrl}/admin/sessions/${s1.key}`, {})).status).toBe(401);
    expect((await admin(b, 'DELETE', `/admin/sessions/${s1.key}`)).body).toEqual({ revoked: 1 });
    expect((await admin(b, 'DELETE', `/admin/sessions/${s1.key}`)).status).toBe(404);
    expect((await getJson(`${a.url}/x`, { cookie: s1.cookie })).status).toBe(401);
    expect((await getJson(`${a.url}/x`, { cookie: s2.cookie })).status).toBe(200);
  });

  it('idle timeout holds to the second, and use keeps a session alive', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up, { idle: '2s', absolute: '1h' });
    const idle = await signIn(a);
    const used = await signIn(a);
    const started = Date.now();
    // `used` is used every 600 ms on alternating replicas; `idle` only at the start.
    expect((await getJson(`${a.url}/x`, { cookie: idle.cookie })).status).toBe(200);
    while (Date.now() - started < 3000) {
      await sleep(600);
      const gh = Math.floor((Date.now() - started) / 600) % 2 ? a : b;
      expect((await getJson(`${gh.url}/x`, { cookie: used.cookie })).status, `at ${Date.now() - started} ms`).toBe(200);
    }
    // 3 s after its last use (idle 2 s) the unused one is gone on both replicas.
    expect((await getJson(`${b.url}/x`, { cookie: idle.cookie })).status).toBe(401);
    expect((await getJson(`${a.url}/x`, { cookie: idle.cookie })).status).toBe(401);
  });

  it('absolute timeout ends a session in use', async () => {
    const up = await startUpstream();
    const [a] = await twoReplicas(up, { idle: '1s', absolute: '2s' });
    const s = await signIn(a);
    const started = Date.now();
    while (Date.now() - started < 1700) {
      expect((await getJson(`${a.url}/x`, { cookie: s.cookie })).status).toBe(200);
      await sleep(250);
    }
    await sleep(Math.max(0, 2100 - (Date.now() - started)));
    expect((await getJson(`${a.url}/x`, { cookie: s.cookie })).status).toBe(401);
  });
});

describe('live connections follow their session', () => {
  it('a WebSocket on one replica closes within 1 s of revocation on the other', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const s = await signIn(a);
    const { closed, greeted } = await openWs(`${b.url.replace('http', 'ws')}/api/kernels/1/channels`, s.cookie);
    await greeted;
    const revokedAt = Date.now();
    await admin(a, 'DELETE', `/admin/sessions/${s.key}`);
    expect((await closed) - revokedAt).toBeLessThan(1000);
  });

  it('an idle WebSocket closes at the idle expiry; traffic on it counts as use', async () => {
    const up = await startUpstream();
    const [a] = await twoReplicas(up, { idle: '2s', absolute: '1h' });
    const quiet = await signIn(a);
    const busy = await signIn(a);
    const q = await openWs(`${a.url.replace('http', 'ws')}/ws`, quiet.cookie);
    const bz = await openWs(`${a.url.replace('http', 'ws')}/ws`, busy.cookie);
    const opened = Date.now();
    const timer = setInterval(() => bz.ws.send('ping'), 300);
    const quietClosedAt = await q.closed;
    // Expiry is measured from the last renewal (at sign-in): 2 s, checked to within a second.
    expect(quietClosedAt - opened).toBeGreaterThan(1500);
    expect(quietClosedAt - opened).toBeLessThan(3000);
    await sleep(1500);
    expect(bz.ws.readyState).toBe(WebSocket.OPEN);
    clearInterval(timer);
    bz.ws.close();
  });

  it('a server-sent events stream is cut when its session is revoked', async () => {
    const up = await startUpstream();
    const [a] = await twoReplicas(up);
    const s = await signIn(a);
    const res = await request(`${a.url}/sse`, { headers: { cookie: s.cookie, accept: 'text/event-stream' } });
    expect(res.statusCode).toBe(200);
    const ended = (async () => {
      try {
        for await (const _ of res.body) {
          /* drain until cut */
        }
      } catch {
        // a cut stream errors: that is the point
      }
      return Date.now();
    })();
    await sleep(200);
    const revokedAt = Date.now();
    await admin(a, 'DELETE', `/admin/users/${encodeURIComponent(ALICE.user)}/sessions`);
    expect((await ended) - revokedAt).toBeLessThan(1000);
  });
});

describe('logout', () => {
  it('GET shows a confirmation form; POST needs its CSRF token, revokes and clears the cookie', async () => {
    const up = await startUpstream();
    const [a] = await twoReplicas(up);
    const s = await signIn(a);
    const page = await request(`${a.url}/.gatehouse/logout`, { headers: { ...browser, cookie: s.cookie } });
    const html = await page.body.text();
    expect(html).toContain('alice@corp.example');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    expect((await getJson(`${a.url}/x`, { cookie: s.cookie })).status).toBe(200); // GET did not sign out

    const post = (body: string) =>
      request(`${a.url}/.gatehouse/logout`, {
        method: 'POST',
        body,
        headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      });
    const bad = await post('csrf=wrong');
    expect(bad.statusCode).toBe(403);
    expect(((await bad.body.json()) as { error: string }).error).toBe('GH_BAD_CSRF');
    expect((await getJson(`${a.url}/x`, { cookie: s.cookie })).status).toBe(200);

    const ok = await post(`csrf=${encodeURIComponent(csrf)}`);
    await ok.body.text();
    expect(ok.statusCode).toBe(303);
    expect(String(ok.headers['set-cookie'])).toContain('gatehouse=; Path=/');
    expect((await getJson(`${a.url}/x`, { cookie: s.cookie })).status).toBe(401);
  });
});

describe('Redis outage', () => {
  it('protected routes fail closed with 503, public routes work, /readyz goes red, and it recovers', async () => {
    const redis = await startOwnRedis();
    const up = await startUpstream();
    const gh = await startTestGatehouse(config(up, { url: redis.url }));
    const s = await signIn(gh);
    expect((await getJson(`${gh.url}/x`, { cookie: s.cookie })).status).toBe(200);
    expect((await getJson(`${gh.adminUrl}/readyz`)).status).toBe(200);

    await redis.stop();
    await sleep(1100); // past the 1 s local cache
    const down = await getJson(`${gh.url}/x`, { cookie: s.cookie });
    expect(down.status).toBe(503);
    expect(down.body.error).toBe('GH_STORE_UNAVAILABLE');
    const page = await request(`${gh.url}/x`, { headers: { ...browser, cookie: s.cookie } });
    expect(page.statusCode).toBe(503);
    expect(await page.body.text()).toContain('temporarily unavailable');
    expect((await getJson(`${gh.url}/public/ok`, { cookie: s.cookie })).status).toBe(200);
    await expect.poll(async () => (await getJson(`${gh.adminUrl}/readyz`)).status).toBe(503);

    await redis.start();
    // Back: the session is gone (this Redis keeps nothing on disk), so sign-in is asked for again.
    await expect.poll(async () => (await getJson(`${gh.adminUrl}/readyz`)).status, { timeout: 8000 }).toBe(200);
    expect((await getJson(`${gh.url}/x`, { cookie: s.cookie })).status).toBe(401);
    const fresh = await signIn(gh);
    expect((await getJson(`${gh.url}/x`, { cookie: fresh.cookie })).status).toBe(200);
  });
});

describe('memory store', () => {
  it('serves a single process with the same behaviour', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(config(up, { store: 'memory' }));
    const s = await signIn(gh);
    expect((await getJson(`${gh.url}/x`, { cookie: s.cookie })).status).toBe(200);
    await admin(gh, 'DELETE', `/admin/users/${encodeURIComponent(ALICE.user)}/sessions`);
    expect((await getJson(`${gh.url}/x`, { cookie: s.cookie })).status).toBe(401);
    expect((await getJson(`${gh.adminUrl}/readyz`)).body.checks.session_store).toBe('memory: ok');
  });
});
