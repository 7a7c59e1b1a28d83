// Live connections ended by Gatehouse say why (DESIGN.md): a WebSocket gets close code 1008 with
// the reason "session revoked" or "session expired", an event stream gets a final
// `gatehouse-session-ended` event and ends cleanly, and the audit record of the connection names
// the reason (gatehouse.end_reason).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import WebSocket from 'ws';
import { parseRecords, readNdjson } from '../support/audit.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

const ADMIN_TOKEN = 'live-close-admin-token-0123456789';
const ALICE = { user: 'alice@corp.example', email: 'alice@corp.example', groups: ['ml'], idp: 'corp', method: 'test' };

async function setUp(session: object = {}) {
  const up = await startUpstream();
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-live-')), 'audit.ndjson');
  const gh = await startTestGatehouse({
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    session: { store: 'memory', secret: 'live-close-session-secret-0123456789abcdef', cookie: { secure: false }, ...session },
    routes: [{ name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } }],
    audit: { sinks: [{ type: 'file', path: file }] },
  });
  const s = await gh.current().sessions.create(ALICE);
  const revoke = async () => {
    const r = await request(`${gh.adminUrl}/admin/sessions/${s.key}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    await r.body.text();
    expect(r.statusCode).toBe(200);
  };
  const records = () => parseRecords(readNdjson(file));
  return { gh, cookie: `gatehouse=${s.cookieValue}`, revoke, records };
}

function openWs(url: string, cookie: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie } });
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('error', reject);
  });
}

const wsRecord = (records: Record<string, any>[]) => records.find((r) => r.event?.action === 'websocket_session');

describe('live connections closed by Gatehouse', () => {
  it('a revoked session\'s WebSocket closes with 1008 "session revoked"; the audit record says so', async () => {
    const { gh, cookie, revoke, records } = await setUp();
    const { ws, closed } = await openWs(`${gh.url.replace('http', 'ws')}/ws`, cookie);
    // The tunnel works before.
    const echo = new Promise((r) => ws.once('message', (d) => r(String(d))));
    ws.send('hello');
    expect(await echo).toBe('hello');
    await revoke();
    expect(await closed).toEqual({ code: 1008, reason: 'session revoked' });
    await expect.poll(() => wsRecord(records())?.gatehouse?.end_reason, { timeout: 5000 }).toBe('session revoked');
  });

  it('an expired session\'s WebSocket closes with 1008 "session expired"', async () => {
    const { gh, cookie, records } = await setUp({ idle_timeout: '1s', absolute_timeout: '1h' });
    const { closed } = await openWs(`${gh.url.replace('http', 'ws')}/ws`, cookie);
    expect(await closed).toEqual({ code: 1008, reason: 'session expired' });
    await expect.poll(() => wsRecord(records())?.gatehouse?.end_reason, { timeout: 5000 }).toBe('session expired');
  });

  it('an event stream ends with a final gatehouse-session-ended event and a clean end', async () => {
    const { gh, cookie, revoke, records } = await setUp();
    const res = await request(`${gh.url}/sse`, { headers: { cookie, accept: 'text/event-stream' } });
    expect(res.statusCode).toBe(200);
    let text = '';
    let revoked = false;
    const ended = (async () => {
      for await (const chunk of res.body) {
        text += chunk.toString();
        if (text.includes('data:') && !revoked) {
          revoked = true;
          void revoke();
        }
      }
    })();
    // A clean end: the body finishes without an error.
    await ended;
    expect(text).toMatch(/\n\nevent: gatehouse-session-ended\ndata: session revoked\n\n$/);
    await expect
      .poll(() => records().find((r) => r.url?.path === '/sse')?.gatehouse?.end_reason, { timeout: 5000 })
      .toBe('session revoked');
  });
});
