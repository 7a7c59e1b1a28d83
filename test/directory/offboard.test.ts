// offboardUser on two replicas sharing one Redis: the user's sessions end everywhere, each with a
// session_revoked record naming the reason and the actor; the other replica's live connections
// of those sessions close with "revoked"; other users keep theirs.
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AuthEventInput } from '../../src/audit/events.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { createOffboarding } from '../../src/directory/offboard.ts';
import { sessionsFromConfig } from '../../src/session/create.ts';
import { createLogger } from '../../src/log.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';

function replica(prefix: string) {
  const { config } = compileConfig({
    server: { public_url: 'https://ml.corp.example' },
    session: { store: 'redis', redis: { url: redisUrl(), key_prefix: prefix }, secret: 'offboard-secret-offboard-secret-0123' },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
  });
  const sessions = sessionsFromConfig(config.session, createLogger('silent'));
  onTestFinished(() => sessions.close());
  return sessions;
}

describe('offboardUser', () => {
  it('ends every session of the user on every replica and closes their live connections there', async () => {
    const prefix = uniquePrefix();
    const a = replica(prefix);
    const b = replica(prefix);
    await expect.poll(() => a.store.isReady() && b.store.isReady()).toBe(true);
    const newSession = (user: string) => a.create({ user, groups: [], idp: 'corp', method: 'oidc' });
    const s1 = await newSession('alice@example.com');
    const s2 = await newSession('alice@example.com');
    const other = await newSession('bob@example.com');
    // Replica B holds a live connection of alice's (and one of bob's) and has her session cached.
    expect((await b.lookup(s1.cookieValue)).state).toBe('active');
    const ended: string[] = [];
    b.watch(s1.key, s1.record, { end: (why) => ended.push(`alice:${why}`) });
    b.watch(other.key, other.record, { end: (why) => ended.push(`bob:${why}`) });
    const events: AuthEventInput[] = [];
    const offboarding = createOffboarding({ sessions: () => a, onAuthEvent: (e) => events.push(e) });
    const result = await offboarding.offboardUser('alice@example.com', { reason: 'scim_deactivated', actor: 'scim' });
    expect([...result.sessions].sort()).toEqual([s1.key, s2.key].sort());
    expect(result.tokens).toBe(0);
    await expect.poll(() => ended, { timeout: 10_000 }).toEqual(['alice:revoked']);
    expect((await b.lookup(s1.cookieValue)).state).toBe('revoked');
    expect((await b.lookup(s2.cookieValue)).state).toBe('revoked');
    expect((await b.lookup(other.cookieValue)).state).toBe('active');
    expect(events.map((e) => [e.action, e.reason, e.credential, e.targetUser, e.idp])).toEqual([
      ['session_revoked', 'scim_deactivated', 'scim', 'alice@example.com', 'corp'],
      ['session_revoked', 'scim_deactivated', 'scim', 'alice@example.com', 'corp'],
    ]);
  });

  it('ends the user tokens through the token hook when one is wired in', async () => {
    const a = replica(uniquePrefix());
    await expect.poll(() => a.store.isReady()).toBe(true);
    const asked: string[] = [];
    const offboarding = createOffboarding({
      sessions: () => a,
      onAuthEvent: () => {},
      revokeTokens: async (user) => (asked.push(user), 3),
    });
    expect(await offboarding.offboardUser('carol@example.com', { reason: 'x', actor: 'y' })).toEqual({
      user: 'carol@example.com',
      sessions: [],
      tokens: 3,
    });
    expect(asked).toEqual(['carol@example.com']);
  });
});
