// Admin listener, graceful shutdown, and the CLI as a real process.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { request } from 'undici';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { deadPort, startUpstream } from '../support/upstream.ts';
import { getJson } from '../support/http.ts';
import { CHILD_TEST_TIMEOUT_MS, listeningUrl, spawnGatehouse } from '../support/child.ts';

describe('admin listener', () => {
  it('serves /healthz, /readyz and Prometheus /metrics, and guards /admin/* with the token', async () => {
    const up = await startUpstream();
    const token = 'a-very-long-admin-token-for-tests';
    const gh = await startTestGatehouse({ ...baseConfig(up.url), admin: { listen: '127.0.0.1:0', token } });
    expect((await getJson(`${gh.adminUrl}/healthz`)).body).toEqual({ status: 'ok' });
    const ready = await getJson(`${gh.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    // The memory store answers its PING; no identity provider is configured.
    expect(ready.body).toEqual({ status: 'ready', checks: { listener: 'ok', session_store: 'memory: ok' }, identity_providers: {} });
    await getJson(`${gh.url}/x`);
    const metrics = await (await request(`${gh.adminUrl}/metrics`)).body.text();
    expect(metrics).toContain('gatehouse_requests_total{route="app",status="200"} 1');
    expect(metrics).toContain('gatehouse_request_duration_seconds_bucket');
    expect(metrics).toContain('gatehouse_websockets_open');
    expect(metrics).toContain('gatehouse_session_store_up 1');
    expect((await getJson(`${gh.adminUrl}/admin/sessions`)).status).toBe(401);
    expect((await getJson(`${gh.adminUrl}/admin/sessions`, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await getJson(`${gh.adminUrl}/admin/nothing`, { authorization: `Bearer ${token}` })).status).toBe(404);
    // The admin API is not reachable through the public listener.
    expect(up.seen.some((s) => s.url.startsWith('/metrics'))).toBe(false);
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests, refuses new connections, reports not ready, and closes WebSockets', async () => {
    const up = await startUpstream((req, res) => {
      if (req.url !== '/delay') return false;
      setTimeout(() => res.end('finished'), 400);
      return true;
    });
    const gh = await startTestGatehouse(baseConfig(up.url), { keepRunning: true });
    const ws = new WebSocket(`${gh.url.replace('http', 'ws')}/ws`);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const wsClosed = new Promise<number>((r) => ws.once('close', (code) => r(code)));

    const inFlight = request(`${gh.url}/delay`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await expect.poll(() => up.seen.some((s) => s.url === '/delay')).toBe(true);
    const done = gh.shutdown();
    expect((await getJson(`${gh.adminUrl}/readyz`)).status).toBe(503);
    expect(await wsClosed).toBe(1001);
    expect(await inFlight).toEqual({ status: 200, body: 'finished' });
    await done;
    await expect(request(`${gh.url}/x`)).rejects.toThrow();
  });

  it('answers requests still running after shutdown_timeout with 503 GH_SHUTTING_DOWN (issue 12)', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(
      { ...baseConfig(up.url), server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', shutdown_timeout: '200ms' } },
      { keepRunning: true },
    );
    const stuck = request(`${gh.url}/slow`, { headers: { accept: 'application/json' } }).then(
      async (r) => ({ status: r.statusCode, connection: r.headers.connection, body: (await r.body.json()) as { error: string } }),
      (e: Error) => e.name,
    );
    await expect.poll(() => up.seen.length).toBe(1);
    const started = Date.now();
    await gh.shutdown();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await stuck).toMatchObject({ status: 503, connection: 'close', body: { error: 'GH_SHUTTING_DOWN' } });
  });

  it('answers with Connection: close while draining and keeps a busy keep-alive connection until its answer is out (issue 12)', async () => {
    const up = await startUpstream((req, res) => {
      if (req.url !== '/delay') return false;
      setTimeout(() => res.end('finished'), 300);
      return true;
    });
    const gh = await startTestGatehouse(baseConfig(up.url), { keepRunning: true });
    // One keep-alive connection: a first answer, then a request in flight when the drain starts.
    const first = await request(`${gh.url}/x`);
    await first.body.dump();
    expect(first.headers.connection).toBe('keep-alive');
    const inFlight = request(`${gh.url}/delay`).then(async (r) => ({
      status: r.statusCode,
      connection: r.headers.connection,
      body: await r.body.text(),
    }));
    await expect.poll(() => up.seen.some((s) => s.url === '/delay')).toBe(true);
    const done = gh.shutdown();
    expect(await inFlight).toEqual({ status: 200, connection: 'close', body: 'finished' });
    await done;
  });
});

function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, text);
  return file;
}

describe('CLI', () => {
  it('start: a bad config names the key, exits non-zero and never listens', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const port = await deadPort();
    const file = writeConfig(
      `server:\n  listen: "127.0.0.1:${port}"\n  public_url: "http://127.0.0.1:${port}"\nroutes:\n  - name: a\n    upstream: "http://127.0.0.1:1"\n  - name: b\n    upstream: "http://127.0.0.1:1"\n  - name: c\n    upstream: "nope"\n`,
    );
    const r = spawnGatehouse(['start', '--config', file]);
    expect((await r.exited()).code).toBe(1);
    expect(r.output()).toContain('routes[2].upstream: not a URL');
    await expect(request(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });

  it('start: serves, then drains and exits 0 on SIGTERM', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const up = await startUpstream();
    const file = writeConfig(
      `log_level: info\nserver:\n  listen: "127.0.0.1:0"\n  public_url: "http://127.0.0.1:4180"\nadmin:\n  listen: "127.0.0.1:0"\n  token: \${env:TEST_ADMIN_TOKEN}\nroutes:\n  - name: app\n    upstream: "${up.url}"\n    allow: { public: true }\n`,
    );
    const r = spawnGatehouse(['start', '--config', file], { env: { TEST_ADMIN_TOKEN: 'token-value-that-must-not-be-logged' } });
    const url = listeningUrl(await r.waitFor(/gatehouse listening/, '"gatehouse listening"'));
    expect((await getJson(`${url}/hello`)).status).toBe(200);
    expect((await r.stop('SIGTERM')).code).toBe(0);
    expect(r.output()).not.toContain('token-value-that-must-not-be-logged');
  });

  it('check-config: exit 0 with a redacted summary, exit 1 with every problem', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const good = writeConfig(
      'server:\n  public_url: "https://ml.corp.example"\nadmin:\n  token: ${env:T}\nroutes:\n  - name: app\n    upstream: "http://127.0.0.1:5000"\n    allow: { public: true }\n',
    );
    const ok = spawnGatehouse(['check-config', '--config', good], { env: { T: 'super-secret-admin-token-123' } });
    expect((await ok.exited()).code).toBe(0);
    expect(ok.output()).toContain('app');
    expect(ok.output()).toContain('[redacted]');
    expect(ok.output()).not.toContain('super-secret-admin-token-123');
    const bad = writeConfig(
      'server:\n  public_url: "http://ml.corp.example"\n  colour: blue\nroutes:\n  - name: app\n    upstream: "http://127.0.0.1:5000"\n    timeout: soon\n',
    );
    const ko = spawnGatehouse(['check-config', '--config', bad]);
    expect((await ko.exited()).code).toBe(1);
    expect(ko.output()).toContain('server.colour: unknown key');
    expect(ko.output()).toContain('routes[0].timeout');
  });
});
