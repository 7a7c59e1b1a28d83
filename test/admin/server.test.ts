// The admin listener's answers (structure review §3.4, P7): every error is a GatehouseError rendered
// from ERROR_CODES in the public JSON error shape ({ error, message, status, request_id }), with the
// request id in the head too; 5xx details stay in the log; a refused reload is GH_RELOAD_FAILED 422.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { createAdminHandler, type AdminDeps } from '../../src/admin/server.ts';
import type { AuthEventInput } from '../../src/audit/events.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { Secret } from '../../src/config/secret.ts';
import { ERROR_CODES } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { sessionsFromConfig } from '../../src/session/create.ts';
import type { SessionManager } from '../../src/session/manager.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const TOKEN = 'admin-server-test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function startAdmin(
  overrides: Partial<AdminDeps> = {},
  wrap = (s: SessionManager) => s,
): Promise<{ url: string; events: AuthEventInput[]; sessions: SessionManager }> {
  const { config } = compileConfig({ ...baseConfig(), audit: { sinks: [] } });
  const sessions = sessionsFromConfig(config.session, silentLogger);
  const events: AuthEventInput[] = [];
  const server: Server = createServer(
    createAdminHandler({
      metrics: createMetrics(),
      log: silentLogger,
      sessions: () => wrap(sessions),
      onAuthEvent: (e) => events.push(e),
      reload: async () => ({ ok: true, warnings: [] }),
      token: () => new Secret(TOKEN),
      ready: async () => ({ ok: true, checks: { listener: 'ok' } }),
      ...overrides,
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(async () => {
    await new Promise((r) => server.close(r));
    await sessions.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, events, sessions };
}

async function call(url: string, method = 'GET', headers: Record<string, string> = {}) {
  const r = await request(url, { method, headers });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body: JSON.parse(text) as Record<string, unknown> };
}

describe('admin listener errors', () => {
  it('have the public JSON error shape, with the request id of the head', async () => {
    const { url } = await startAdmin();
    const r = await call(`${url}/nothing-here`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'GH_NOT_FOUND', message: 'not found', status: 404, request_id: r.headers['x-request-id'] });
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('401 without the token carries WWW-Authenticate and is audited as a failure', async () => {
    const { url, events } = await startAdmin();
    const r = await call(`${url}/admin/sessions?user=a`);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="gatehouse-admin"');
    expect(r.body).toMatchObject({ error: 'GH_UNAUTHENTICATED', message: 'admin bearer token required', status: 401 });
    expect(events).toMatchObject([{ action: 'admin_api', outcome: 'failure', reason: 'unauthorized', message: 'GET /admin/sessions' }]);
  });

  it('405 names the allowed method; 400 says what is missing', async () => {
    const { url } = await startAdmin();
    const r = await call(`${url}/admin/reload`, 'GET', AUTH);
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
    expect(r.body).toMatchObject({ error: 'GH_METHOD_NOT_ALLOWED', message: 'use POST', status: 405 });
    const del = await call(`${url}/admin/sessions`, 'DELETE', AUTH);
    expect([del.status, del.headers.allow]).toEqual([405, 'GET']);
    expect((await call(`${url}/admin/sessions`, 'GET', AUTH)).body).toMatchObject({
      error: 'GH_BAD_REQUEST',
      message: 'query parameter "user" is required',
      status: 400,
    });
  });

  it('a refused reload is GH_RELOAD_FAILED 422 with the reason; a reload that throws is a 500 without details', async () => {
    const refused = await startAdmin({ reload: async () => ({ ok: false, error: 'routes[0].upstream: not a URL' }) });
    const r = await call(`${refused.url}/admin/reload`, 'POST', AUTH);
    expect(r.status).toBe(ERROR_CODES.GH_RELOAD_FAILED.status);
    expect(r.body).toMatchObject({ error: 'GH_RELOAD_FAILED', message: 'routes[0].upstream: not a URL', status: 422 });
    const broken = await startAdmin({ reload: () => Promise.reject(new Error('secret internal detail')) });
    const b = await call(`${broken.url}/admin/reload`, 'POST', AUTH);
    expect(b.status).toBe(500);
    expect(b.body).toMatchObject({ error: 'GH_INTERNAL', message: 'Internal error', status: 500 });
  });

  it('a failing session store is GH_STORE_UNAVAILABLE 503', async () => {
    const { url } = await startAdmin({}, (s) => ({ ...s, list: () => Promise.reject(new Error('connection lost')) }));
    const r = await call(`${url}/admin/sessions?user=a`, 'GET', AUTH);
    expect(r.status).toBe(503);
    // The store's reason goes to the log; the caller gets the title.
    expect(r.body).toMatchObject({ error: 'GH_STORE_UNAVAILABLE', message: 'Sessions unavailable', status: 503 });
  });
});

describe('admin listener answers', () => {
  it('keep their bodies: health, readiness, reload, sessions', async () => {
    const { url, sessions } = await startAdmin({ reload: async () => ({ ok: true, warnings: ['listen changed'] }) });
    expect((await call(`${url}/healthz`)).body).toEqual({ status: 'ok' });
    expect(await call(`${url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready', checks: { listener: 'ok' } } });
    expect((await call(`${url}/admin/reload`, 'POST', AUTH)).body).toEqual({ status: 'reloaded', warnings: ['listen changed'] });
    const s = await sessions.create({ user: 'alice', groups: [], idp: 't', method: 't' });
    expect((await call(`${url}/admin/sessions?user=alice`, 'GET', AUTH)).body).toMatchObject({ user: 'alice', sessions: [{ id: s.key }] });
    expect(await call(`${url}/admin/sessions/${s.key}`, 'DELETE', AUTH)).toMatchObject({ status: 200, body: { revoked: 1 } });
    expect(await call(`${url}/admin/sessions/${s.key}`, 'DELETE', AUTH)).toMatchObject({ status: 404, body: { revoked: 0 } });
  });

  it('a readiness check that throws is "not ready", not an error', async () => {
    const { url } = await startAdmin({ ready: () => Promise.reject(new Error('x')) });
    expect(await call(`${url}/readyz`)).toMatchObject({
      status: 503,
      body: { status: 'not ready', checks: { readiness: 'check failed' } },
    });
  });
});
