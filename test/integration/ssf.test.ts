// Issue 19, Shared Signals: a signed CAEP session-revoked SET pushed to one replica ends the user's
// session on another replica — a separate Gatehouse process sharing the same real Redis — whose
// open WebSocket closes with 1008 "session revoked" and whose next request is refused. The wait
// is for the close event itself (bounded generously); the measured delay is printed, and it must
// be shorter than the live re-check period, i.e. the store's notification closed it, not a timer.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHILD_TEST_TIMEOUT_MS, spawnGatehouse } from '../support/child.ts';
import { getJson } from '../support/http.ts';
import { freePort } from '../support/ports.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { ACCOUNT_DISABLED, pushSet, SESSION_REVOKED, startTransmitter } from '../support/ssf-transmitter.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

const SECRET = 'ssf-two-replicas-session-secret-0123456789';
const ALICE = { user: 'alice@corp.example', email: 'alice@corp.example', groups: ['ml'], idp: 'corp', method: 'test' };
/** The manager's default live re-check period (session/manager.ts): a close sooner than this was the notification's. */
const LIVE_RECHECK_MS = 10_000;
/** Bound on waiting for the close on a loaded machine (a hang fails, a slow machine does not). */
const CLOSE_BOUND_MS = 30_000;

function openWs(url: string, cookie: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string; at: number }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie } });
    const closed = new Promise<{ code: number; reason: string; at: number }>((r) =>
      ws.once('close', (code, reason) => r({ code, reason: reason.toString(), at: Date.now() })),
    );
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('error', reject);
  });
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

describe('Shared Signals across replicas (issue 19)', () => {
  it(
    'session-revoked pushed to replica B (own process) closes the WebSocket on replica A with 1008 and ends the session there',
    async () => {
      const [up, tx, port] = await Promise.all([startUpstream(), startTransmitter(), freePort()]);
      const prefix = uniquePrefix();
      const shared = (publicUrl: string) => ({
        session: { store: 'redis', redis: { url: redisUrl(), key_prefix: prefix }, secret: SECRET, cookie: { secure: false } },
        ssf: { transmitters: [tx.entry()] },
        routes: [{ name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } }],
        server: {
          listen: `127.0.0.1:${publicUrl === '' ? 0 : port}`,
          public_url: publicUrl || 'http://127.0.0.1:4180',
          shutdown_timeout: '2s',
        },
      });
      const a = await startTestGatehouse({ ...baseConfig(), ...shared('') });
      const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-ssf-')), 'gatehouse.yaml');
      const bConfig = { log_level: 'info', admin: { listen: '127.0.0.1:0' }, audit: { sinks: [] }, ...shared(`http://127.0.0.1:${port}`) };
      writeFileSync(file, JSON.stringify(bConfig, null, 2));
      const b = spawnGatehouse(['start', '--config', file]);
      await b.waitFor(/gatehouse listening/, 'replica B listening');
      const bUrl = `http://127.0.0.1:${port}`;

      const s = await a.current().sessions.create(ALICE);
      const cookie = `gatehouse=${s.cookieValue}`;
      expect((await getJson(`${a.url}/x`, { cookie })).status).toBe(200);
      expect((await getJson(`${bUrl}/x`, { cookie })).status).toBe(200);
      const { ws, closed } = await openWs(`${a.url.replace('http', 'ws')}/ws`, cookie);
      const echo = new Promise((r) => ws.once('message', (d) => r(String(d))));
      ws.send('hello');
      expect(await echo).toBe('hello');

      // B fetches the transmitter's JWKS on its first SET; warm it so the delay measured below is the revocation's.
      expect((await pushSet(bUrl, await tx.event(SESSION_REVOKED, 'nobody@corp.example'))).status).toBe(202);
      const pushedAt = Date.now();
      const r = await pushSet(bUrl, await tx.event(SESSION_REVOKED, ALICE.user));
      expect(r.status).toBe(202);
      const close = await bounded(closed, CLOSE_BOUND_MS, 'WebSocket close on replica A');
      expect({ code: close.code, reason: close.reason }).toEqual({ code: 1008, reason: 'session revoked' });
      console.log(`[ssf] replica A closed the WebSocket ${close.at - pushedAt} ms after the push to replica B began`);
      expect(close.at - pushedAt).toBeLessThan(LIVE_RECHECK_MS);
      expect((await getJson(`${a.url}/x`, { cookie })).status).toBe(401);
      expect((await getJson(`${bUrl}/x`, { cookie })).status).toBe(401);
      // A jti first seen by replica A is a replay at replica B: the marker lives in the shared store.
      const replay = await pushSet(a.url, await tx.event(ACCOUNT_DISABLED, 'nobody@corp.example', { jti: 'fixed-jti-1' }));
      expect(replay.status).toBe(202);
      const again = await pushSet(bUrl, await tx.event(ACCOUNT_DISABLED, 'nobody@corp.example', { jti: 'fixed-jti-1' }));
      expect([again.status, again.body.err]).toEqual([400, 'invalid_request']);
    },
    CHILD_TEST_TIMEOUT_MS,
  );
});
