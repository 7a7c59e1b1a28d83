// WebSocket upgrades through the proxy to a real `ws` echo server.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { request } from 'undici';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { rawRequest } from '../support/http.ts';
import { deadPort, startUpstream } from '../support/upstream.ts';

// Messages are queued from the start: the upstream's greeting can arrive with the 101 response.
const inbox = new WeakMap<WebSocket, { queue: string[]; waiters: ((m: string) => void)[] }>();

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const box = { queue: [] as string[], waiters: [] as ((m: string) => void)[] };
    inbox.set(ws, box);
    ws.on('message', (d) => {
      const w = box.waiters.shift();
      if (w) w(String(d));
      else box.queue.push(String(d));
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<string> {
  const box = inbox.get(ws)!;
  const queued = box.queue.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  return new Promise((resolve) => box.waiters.push(resolve));
}

async function metric(adminUrl: string, name: string): Promise<string> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('WebSocket proxying', () => {
  it('upgrades, echoes both ways with forwarded headers, and counts the open socket', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const ws = await open(`${gh.url.replace('http', 'ws')}/api/kernels/k1/channels?session_id=s`, { 'x-gatehouse-user': 'admin' });
    const hello = JSON.parse(await nextMessage(ws));
    expect(hello.hello).toBe('/api/kernels/k1/channels?session_id=s');
    expect(hello.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(hello.headers['x-gatehouse-user']).toBeUndefined();
    expect(hello.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(await metric(gh.adminUrl, 'gatehouse_websockets_open')).toContain('gatehouse_websockets_open{route="app"} 1');

    const reply = nextMessage(ws);
    ws.send('print(6*7)');
    expect(await reply).toBe('print(6*7)');
    const big = 'x'.repeat(1024 * 1024);
    const bigReply = nextMessage(ws);
    ws.send(big);
    expect((await bigReply).length).toBe(big.length);

    ws.close();
    await new Promise((r) => ws.once('close', r));
    await expect.poll(() => metric(gh.adminUrl, 'gatehouse_websockets_open')).toContain('gatehouse_websockets_open{route="app"} 0');
    await expect
      .poll(() => metric(gh.adminUrl, 'gatehouse_requests_total'))
      .toContain('gatehouse_requests_total{route="app",status="101"} 1');
  });

  it('refuses upgrades on ambiguous paths, unknown routes and closed routes before reaching the upstream', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [
        { name: 'open', path: '/open', upstream: up.url, allow: { public: true } },
        { name: 'closed', path: '/closed', upstream: up.url },
      ],
    });
    const upgrade =
      'upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\naccept: application/json';
    const bad = await rawRequest(gh.url, `GET /open/%2e%2e/%2e%2e/x HTTP/1.1\r\nhost: h\r\n${upgrade}`);
    expect(bad.status).toBe(400);
    const none = await rawRequest(gh.url, `GET /nothing HTTP/1.1\r\nhost: h\r\n${upgrade}`);
    expect(none.status).toBe(404);
    const closed = await rawRequest(gh.url, `GET /closed/ws HTTP/1.1\r\nhost: h\r\n${upgrade}`);
    expect(closed.status).toBe(401);
    expect(JSON.parse(closed.body).error).toBe('GH_UNAUTHENTICATED');
    const h2c = await rawRequest(
      gh.url,
      'GET /open/x HTTP/1.1\r\nhost: h\r\nupgrade: h2c\r\nconnection: Upgrade\r\naccept: application/json',
    );
    expect(h2c.status).toBe(400);
    expect(up.seen).toHaveLength(0);
  });

  it('answers 502 to an upgrade when the upstream is down', async () => {
    const port = await deadPort();
    const gh = await startTestGatehouse(baseConfig(`http://127.0.0.1:${port}`));
    const r = await rawRequest(
      gh.url,
      'GET /ws HTTP/1.1\r\nhost: h\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\naccept: application/json',
    );
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body).error).toBe('GH_UPSTREAM_UNREACHABLE');
  });
});
