// Issue 14, records that say what happened: an admin call is written after the action, with the
// status it really got and structured fields (method and path, target user, sessions affected,
// the credential by name, never the token); every session it ends gets its own session_revoked
// record with its user, at the moment it ends. Real admin listener, real session manager.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';
import { createAdminHandler } from '../../src/admin/server.ts';
import { authFacts, type AuthEventInput } from '../../src/audit/events.ts';
import { toRecord } from '../../src/audit/record.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { Secret } from '../../src/config/secret.ts';
import { silentLogger } from '../../src/log.ts';
import { sessionsFromConfig } from '../../src/session/create.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const TOKEN = 'admin-records-test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function startAdmin() {
  const { config } = compileConfig({ ...baseConfig(), audit: { sinks: [] } });
  const sessions = sessionsFromConfig(config.session, silentLogger);
  const events: AuthEventInput[] = [];
  const server: Server = createServer(
    createAdminHandler({
      metrics: createMetrics(),
      log: silentLogger,
      sessions: () => sessions,
      onAuthEvent: (e) => events.push(e),
      reload: async () => ({ ok: true, warnings: [] }),
      token: () => new Secret(TOKEN),
      ready: async () => ({ ok: true, checks: {} }),
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(async () => {
    await new Promise((r) => server.close(r));
    await sessions.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, headers: Record<string, string> = AUTH) => {
    const r = await request(`${url}${path}`, { method, headers });
    await r.body.dump();
    return r.statusCode;
  };
  const signIn = (user: string, subject: string) => sessions.create({ user, groups: ['ml'], idp: 'corp', method: 'oidc', subject });
  return { events, call, signIn };
}

describe('admin calls and the sessions they end, in the audit trail', () => {
  it('revoke by id: one session_revoked with its user, then the call with status, target user, count and credential', async () => {
    const { events, call, signIn } = await startAdmin();
    const bob = await signIn('bob@example.com', 'sub-bob');
    expect(await call('DELETE', `/admin/sessions/${bob.key}`)).toBe(200);
    expect(events).toEqual([
      {
        action: 'session_revoked',
        outcome: 'success',
        reason: 'admin',
        session: bob.key,
        clientIp: '127.0.0.1',
        user: expect.objectContaining({ user: 'bob@example.com', subject: 'sub-bob' }),
        idp: 'corp',
      },
      {
        action: 'admin_api',
        outcome: 'success',
        reason: `DELETE /admin/sessions/${bob.key}`,
        message: undefined,
        clientIp: '127.0.0.1',
        credential: 'admin.token',
        targetUser: 'bob@example.com',
        count: 1,
        status: 200,
      },
    ]);
    // As written: the revocation names bob and his IdP subject; the call names its target.
    const [revoked, admin] = events.map(
      (e) => toRecord(authFacts(undefined, e, 1), { sequence: 1, bootId: 'b' }, 'ecs') as Record<string, any>,
    );
    expect(revoked!.user).toMatchObject({ name: 'bob@example.com', id: 'sub-bob', domain: 'corp' });
    expect(admin).toMatchObject({
      user: { target: { name: 'bob@example.com' } },
      http: { request: { method: 'DELETE' }, response: { status_code: 200 } },
      gatehouse: { count: 1, credential: 'admin.token' },
    });
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });

  it('revoke by user: one session_revoked per session, each with its user; the call counts them', async () => {
    const { events, call, signIn } = await startAdmin();
    const a = await signIn('carol@example.com', 'sub-carol');
    const b = await signIn('carol@example.com', 'sub-carol');
    await signIn('dave@example.com', 'sub-dave');
    expect(await call('DELETE', '/admin/users/carol%40example.com/sessions')).toBe(200);
    const revoked = events.filter((e) => e.action === 'session_revoked');
    expect(revoked.map((e) => e.session).sort()).toEqual([a.key, b.key].sort());
    for (const e of revoked)
      expect(e).toMatchObject({ reason: 'admin', user: { user: 'carol@example.com', subject: 'sub-carol' }, idp: 'corp' });
    expect(events.at(-1)).toMatchObject({
      action: 'admin_api',
      outcome: 'success',
      targetUser: 'carol@example.com',
      count: 2,
      status: 200,
    });
  });

  it('a call that did nothing is not a success: 404 for an unknown session, 405, 401 without the token', async () => {
    const { events, call } = await startAdmin();
    expect(await call('DELETE', '/admin/sessions/no-such-session')).toBe(404);
    expect(await call('PUT', '/admin/sessions')).toBe(405);
    expect(await call('GET', '/admin/sessions?user=x', { authorization: 'Bearer wrong-token-wrong-token' })).toBe(401);
    expect(events).toMatchObject([
      {
        action: 'admin_api',
        outcome: 'failure',
        reason: 'status_404',
        message: 'DELETE /admin/sessions/no-such-session',
        count: 0,
        status: 404,
        credential: 'admin.token',
      },
      { action: 'admin_api', outcome: 'failure', reason: 'GH_METHOD_NOT_ALLOWED', message: 'PUT /admin/sessions', status: 405 },
      {
        action: 'admin_api',
        outcome: 'failure',
        reason: 'unauthorized',
        message: 'GET /admin/sessions',
        status: 401,
        credential: undefined,
      },
    ]);
    expect(events).toHaveLength(3);
  });
});
