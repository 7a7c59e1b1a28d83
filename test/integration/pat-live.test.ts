// Live connections opened with a personal access token end with the token (issue 16): two
// replicas sharing a real Redis, a real upstream (WebSocket echo, event stream). A WebSocket or
// event stream opened through replica A with `Authorization: Bearer gatehouse_pat_…` is closed
// like a revoked session's (1008 "session revoked", the final gatehouse-session-ended event) when
// the token is revoked on replica B — by an admin, by its owner on the page's JSON API, or with
// all of the user's credentials (DELETE /admin/users/<user>/sessions). Connections of other
// tokens stay open. One process on the memory store closes them too.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseRecords, readNdjson } from '../support/audit.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const ADMIN_TOKEN = 'admin-token-for-pat-live-tests-0123456789';
const ALICE = { user: 'alice@corp.example', email: 'alice@corp.example', name: 'Alice', groups: ['ml'], idp: 'corp', method: 'test' };
/** Generous: the close is event-driven, this only bounds a failing test on a busy machine. */
const CLOSE_BOUND_MS = 10_000;

function config(up: TestUpstream, session: Record<string, unknown>, auditFile: string) {
  return {
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    audit: { sinks: [{ type: 'file', path: auditFile }] },
    session: { secret: 'pat-live-session-secret-0123456789abcdef', cookie: { secure: false }, ...session },
    routes: [{ name: 'app', path: '/', upstream: up.url, allow: { groups: ['ml'] } }],
  };
}

async function setUp() {
  const up = await startUpstream();
  const prefix = uniquePrefix();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pat-live-'));
  const auditA = join(dir, 'a.ndjson');
  const session = { store: 'redis', redis: { url: redisUrl(), key_prefix: prefix } };
  const [a, b] = await Promise.all([
    startTestGatehouse(config(up, session, auditA)),
    startTestGatehouse(config(up, session, join(dir, 'b.ndjson'))),
  ]);
  return { a, b, records: () => parseRecords(readNdjson(auditA)) };
}

const admin = (gh: StartedGatehouse, method: string, path: string, body?: unknown) =>
  request(`${gh.adminUrl}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then(async (r) => ({ status: r.statusCode, json: (await r.body.json()) as Record<string, any> }));

async function adminToken(gh: StartedGatehouse, user: string, name: string): Promise<{ id: string; token: string }> {
  const r = await admin(gh, 'POST', '/admin/tokens', { user, name, routes: ['app'], groups: ['ml'] });
  expect(r.status).toBe(201);
  return { id: r.json.id as string, token: r.json.token as string };
}

interface OpenWs {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
}

/** A WebSocket through `gh` with the token; resolves once the upstream echoed (the tunnel works). */
function openWs(gh: StartedGatehouse, token: string): Promise<OpenWs> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gh.url.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${token}` } });
    let done = false;
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.once('close', (code, reason) => {
        done = true;
        r({ code, reason: reason.toString() });
      }),
    );
    ws.once('error', reject);
    // The upstream greets first (what arrived), then echoes.
    const onMessage = (d: WebSocket.RawData) => {
      if (String(d) !== 'echo me') return;
      ws.off('message', onMessage);
      resolve({ ws, closed, isClosed: () => done });
    };
    ws.on('message', onMessage);
    ws.once('open', () => ws.send('echo me'));
  });
}

/** Resolves with the close, or with "still open" after the bound (a failing test ends, it does not hang). */
function closeWithin(c: OpenWs): Promise<{ code: number; reason: string } | 'still open'> {
  return Promise.race([c.closed, new Promise<'still open'>((r) => setTimeout(() => r('still open'), CLOSE_BOUND_MS).unref())]);
}

async function echoes(c: OpenWs): Promise<boolean> {
  const back = new Promise((r) => c.ws.once('message', (d) => r(String(d))));
  c.ws.send('still here');
  return (await back) === 'still here';
}

describe('live connections opened with a personal access token', () => {
  it('an admin revoking the token on replica B closes its WebSocket and event stream on replica A; other tokens stay open', async () => {
    const { a, b, records } = await setUp();
    const revoked = await adminToken(a, ALICE.user, 'notebook');
    const other = await adminToken(a, ALICE.user, 'other job');
    const ws = await openWs(a, revoked.token);
    const kept = await openWs(a, other.token);

    const res = await request(`${a.url}/sse`, { headers: { authorization: `Bearer ${revoked.token}`, accept: 'text/event-stream' } });
    expect(res.statusCode).toBe(200);
    let text = '';
    let started: () => void = () => {};
    const firstEvent = new Promise<void>((r) => (started = r));
    const streamEnded = (async () => {
      for await (const chunk of res.body) {
        text += chunk.toString();
        if (text.includes('data:')) started();
      }
    })();
    await firstEvent;

    expect((await admin(b, 'DELETE', `/admin/tokens/${revoked.id}`)).json).toEqual({ revoked: 1 });
    expect(await closeWithin(ws)).toEqual({ code: 1008, reason: 'session revoked' });
    await streamEnded;
    expect(text).toMatch(/\n\nevent: gatehouse-session-ended\ndata: session revoked\n\n$/);
    await expect
      .poll(() => records().find((r) => r.event?.action === 'websocket_session')?.gatehouse?.end_reason, { timeout: CLOSE_BOUND_MS })
      .toBe('session revoked');

    // The other token's connection was not touched.
    expect(kept.isClosed()).toBe(false);
    expect(await echoes(kept)).toBe(true);
    kept.ws.close();
  });

  it("the owner revoking the token on the page's JSON API (replica B) closes its WebSocket on replica A", async () => {
    const { a, b } = await setUp();
    const s = await b.current().sessions.create(ALICE);
    const cookie = `gatehouse=${s.cookieValue}`;
    const json = { cookie, accept: 'application/json', 'content-type': 'application/json' };
    const page = await request(`${b.url}/.gatehouse/tokens`, { headers: { cookie, accept: 'application/json' } });
    const csrf = ((await page.body.json()) as { csrf: string }).csrf;
    const created = await request(`${b.url}/.gatehouse/tokens`, {
      method: 'POST',
      headers: { ...json, 'x-csrf-token': csrf },
      body: JSON.stringify({ name: 'live job', routes: ['app'] }),
    });
    const made = (await created.body.json()) as { id: string; token: string };
    expect(created.statusCode).toBe(201);

    const ws = await openWs(a, made.token);
    const del = await request(`${b.url}/.gatehouse/tokens/${made.id}`, { method: 'DELETE', headers: { ...json, 'x-csrf-token': csrf } });
    expect(await del.body.json()).toEqual({ revoked: 1, id: made.id });
    expect(await closeWithin(ws)).toEqual({ code: 1008, reason: 'session revoked' });
  });

  it("DELETE /admin/users/<user>/sessions on replica B closes the user's token connections on replica A, not another user's", async () => {
    const { a, b } = await setUp();
    const svc = await adminToken(a, 'svc-import@corp.example', 'import');
    const bob = await adminToken(a, 'bob@corp.example', 'bob job');
    const ws = await openWs(a, svc.token);
    const kept = await openWs(a, bob.token);

    const ended = await admin(b, 'DELETE', '/admin/users/svc-import%40corp.example/sessions');
    expect(ended.json).toEqual({ user: 'svc-import@corp.example', revoked: 0, tokens_revoked: 1 });
    expect(await closeWithin(ws)).toEqual({ code: 1008, reason: 'session revoked' });
    expect(kept.isClosed()).toBe(false);
    expect(await echoes(kept)).toBe(true);
    kept.ws.close();
  });

  it('one process on the memory store closes them too', async () => {
    const up = await startUpstream();
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-pat-live-')), 'audit.ndjson');
    const gh = await startTestGatehouse(config(up, { store: 'memory' }, file));
    const t = await adminToken(gh, ALICE.user, 'notebook');
    const ws = await openWs(gh, t.token);
    expect((await admin(gh, 'DELETE', `/admin/tokens/${t.id}`)).json).toEqual({ revoked: 1 });
    expect(await closeWithin(ws)).toEqual({ code: 1008, reason: 'session revoked' });
  });
});
