// Hot reload: a new config is validated fully first, swapped whole, and an invalid one leaves the
// running config in force. In-flight requests and open WebSockets finish on the config they
// started with; sessions survive when the session settings did not change.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import WebSocket from 'ws';
import { baseConfig, startTestGatehouse, type RawConfigInput } from '../support/start-gatehouse.ts';
import { getJson } from '../support/http.ts';
import { startUpstream } from '../support/upstream.ts';

const TOKEN = 'reload-test-admin-token-123';

function cfg(upstream: string, allow: object, extra: RawConfigInput = {}): RawConfigInput {
  return {
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: TOKEN },
    session: { secret: 'reload-test-session-secret-0123456789abcdef', cookie: { secure: false } },
    routes: [{ name: 'app', upstream, allow }],
    ...extra,
  };
}

describe('hot reload', () => {
  it('applies a policy edit to new requests, and keeps the old config when the new one is invalid', async () => {
    const up = await startUpstream();
    let next: RawConfigInput = cfg(up.url, { public: true });
    const gh = await startTestGatehouse(next, { reloadFrom: () => next });
    expect((await getJson(`${gh.url}/x`)).status).toBe(200);

    next = cfg(up.url, { authenticated: true });
    expect(await gh.reload()).toMatchObject({ ok: true });
    expect((await getJson(`${gh.url}/x`)).status).toBe(401);

    next = { ...cfg(up.url, { public: true }), routes: [{ name: 'app', upstream: 'not a url', allow: { public: true } }] };
    const bad = await request(`${gh.adminUrl}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await bad.body.json()) as { error: string; message: string };
    expect(bad.statusCode).toBe(422);
    expect(body.message).toContain('routes[0].upstream');
    // Still the previous (valid) config.
    expect((await getJson(`${gh.url}/x`)).status).toBe(401);
    expect((await request(`${gh.adminUrl}/admin/reload`, { method: 'POST' })).statusCode).toBe(401);
  });

  it('lets in-flight requests and open WebSockets finish on the config they started with', async () => {
    const up = await startUpstream((req, res) => {
      if (req.url !== '/slow-ok') return false;
      setTimeout(() => res.end('done'), 400);
      return true;
    });
    let next: RawConfigInput = cfg(up.url, { public: true });
    const gh = await startTestGatehouse(next, { reloadFrom: () => next });
    const ws = new WebSocket(`${gh.url.replace('http', 'ws')}/kernel`);
    const greeted = new Promise((r) => ws.once('message', r));
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    await greeted;
    const inFlight = request(`${gh.url}/slow-ok`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await expect.poll(() => up.seen.some((s) => s.url === '/slow-ok')).toBe(true);

    next = cfg(up.url, { authenticated: true });
    expect((await gh.reload()).ok).toBe(true);
    expect(await inFlight).toEqual({ status: 200, body: 'done' });
    const echo = new Promise((r) => ws.once('message', (d) => r(String(d))));
    ws.send('still here');
    expect(await echo).toBe('still here');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    expect((await getJson(`${gh.url}/x`)).status).toBe(401);
  });

  it('keeps sessions across a reload when the session settings did not change', async () => {
    const up = await startUpstream();
    let next: RawConfigInput = cfg(up.url, { authenticated: true });
    const gh = await startTestGatehouse(next, { reloadFrom: () => next });
    const s = await gh.current().sessions.create({ user: 'alice', groups: ['g'], idp: 't', method: 't' });
    const cookie = { cookie: `gatehouse=${s.cookieValue}` };
    next = cfg(up.url, { groups: ['g'] });
    expect((await gh.reload()).ok).toBe(true);
    expect((await getJson(`${gh.url}/x`, cookie)).status).toBe(200);
    // A changed session secret means a new session manager: old cookies no longer verify.
    next = cfg(up.url, { groups: ['g'] }, { session: { secret: 'another-session-secret-0123456789abcdefgh', cookie: { secure: false } } });
    expect((await gh.reload()).ok).toBe(true);
    expect((await getJson(`${gh.url}/x`, cookie)).status).toBe(401);
  });
});
