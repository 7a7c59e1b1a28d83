// The session list of GET /admin/sessions: the manager lists records, the admin API formats them
// (snake_case, ISO dates, expiry = the earlier of idle and absolute deadlines).
import { describe, expect, it } from 'vitest';
import { sessionSummary } from '../../src/admin/sessions-api.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { Secret } from '../../src/config/secret.ts';
import { createSessionManager } from '../../src/session/manager.ts';
import { createMemoryStore } from '../../src/session/memory-store.ts';

const SECRET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEF';

describe('admin session summaries', () => {
  it('formats each live session with its store key, ISO dates and next expiry', async () => {
    const config = compileConfig({
      server: { public_url: 'https://ml.corp.example' },
      session: { idle_timeout: '30m', absolute_timeout: '1h', secret: SECRET },
      routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
    }).config.session;
    let now = Date.parse('2026-01-01T10:00:00.000Z');
    const store = createMemoryStore({ maxSessions: 10, now: () => now });
    const sessions = createSessionManager({ config, store, secret: new Secret(SECRET), now: () => now });
    const { key } = await sessions.create({ user: 'alice', email: 'alice@corp.example', groups: [], idp: 'corp', method: 'oidc' });
    now += 15 * 60_000;
    expect((await sessions.list('alice')).map(sessionSummary)).toEqual([
      {
        id: key,
        user: 'alice',
        email: 'alice@corp.example',
        idp: 'corp',
        method: 'oidc',
        created_at: '2026-01-01T10:00:00.000Z',
        last_seen_at: '2026-01-01T10:00:00.000Z',
        expires_at: '2026-01-01T10:30:00.000Z',
      },
    ]);
    now += 30 * 60_000;
    await sessions.create({ user: 'bob', groups: [], idp: 'corp', method: 'saml' });
    expect((await sessions.list('alice')).map(sessionSummary)).toEqual([]);
    const [bob] = (await sessions.list('bob')).map(sessionSummary);
    expect(bob).toMatchObject({
      email: undefined,
      method: 'saml',
      created_at: '2026-01-01T10:45:00.000Z',
      expires_at: '2026-01-01T11:15:00.000Z',
    });
    await sessions.close();
  });
});
