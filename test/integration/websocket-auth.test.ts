// WebSocket upgrades end to end against real servers on 127.0.0.1 (the demo IdP, Gatehouse, an
// upstream WebSocket echo): the upgrade is authorised and its Origin checked before anything
// reaches the upstream.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startOidcSetup } from '../support/oidc.ts';
import { COOKIE, ALICE, signIn } from '../support/identity-e2e.ts';
import { startUpstream } from '../support/upstream.ts';

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
        {
          name: 'notebooks',
          path: '/nb',
          upstream: up.url,
          allow: { groups: ['ml-admins'] },
          allowed_origins: ['https://notebooks.corp.example'],
        },
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

    const ok = await attempt(`${wsUrl}?n=1`, {
      ...json,
      cookie: `${COOKIE}=${alice}`,
      'X-Forwarded-User': 'admin',
      X_Forwarded_User: 'admin',
      'X-Gatehouse-Assertion': 'forged',
    });
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
