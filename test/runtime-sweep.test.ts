// Issue 14: the runtime runs the session sweeper and writes session_expired (with the user) for a
// session that ended unused; a reload keeping the sessions keeps one sweeper, with the new callback.
import { describe, expect, it, onTestFinished } from 'vitest';
import { authFacts, type AuthEventInput } from '../src/audit/events.ts';
import { compileConfig } from '../src/config/compile.ts';
import { Secret } from '../src/config/secret.ts';
import { silentLogger } from '../src/log.ts';
import { buildRuntime } from '../src/runtime.ts';
import { createSessionManager } from '../src/session/manager.ts';
import { createMemoryStore } from '../src/session/memory-store.ts';

const SECRET = 'runtime-sweep-secret-runtime-sweep-secret-0123';

/** Resolves with the first event of `action` handed to the returned callback (bounded). */
function awaitEvent(action: string) {
  const seen: AuthEventInput[] = [];
  let resolve: (e: AuthEventInput) => void = () => {};
  const first = new Promise<AuthEventInput>((r) => (resolve = r));
  const bound = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${action} within 20 s`)), 20_000).unref());
  return {
    seen,
    onAuthEvent: (e: AuthEventInput) => {
      seen.push(e);
      if (e.action === action) resolve(e);
    },
    event: Promise.race([first, bound]),
  };
}

describe('runtime session sweeper', () => {
  it('writes session_expired with the user for a session nobody presents again, from the current runtime', async () => {
    const { config } = compileConfig({
      server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180' },
      admin: { listen: '127.0.0.1:0' },
      audit: { sinks: [] },
      session: { idle_timeout: '30m', secret: SECRET },
      routes: [{ name: 'r', upstream: 'http://127.0.0.1:9', allow: { public: true } }],
    });
    const clock = { now: 1_700_000_000_000 };
    const now = () => clock.now;
    const sessions = createSessionManager({
      config: config.session,
      secret: new Secret(SECRET),
      store: createMemoryStore({ maxSessions: 10, now }),
      now,
    });
    onTestFinished(() => sessions.close());
    const before = awaitEvent('session_expired');
    const first = await buildRuntime(config, silentLogger, { sessions, onAuthEvent: before.onAuthEvent, sweepIntervalMs: 10 });
    // A reload that keeps the sessions: the sweeper reports to its callback now, and only there.
    const after = awaitEvent('session_expired');
    const second = await buildRuntime(config, silentLogger, { sessions, onAuthEvent: after.onAuthEvent, sweepIntervalMs: 10 });
    onTestFinished(() => second.close());
    await first.close(second);

    const { key } = await sessions.create({ user: 'eve@corp.example', groups: ['ml'], idp: 'corp', method: 'oidc', subject: 'sub-eve' });
    clock.now += 31 * 60_000;
    const e = await after.event;
    expect(e).toMatchObject({ action: 'session_expired', outcome: 'success', reason: 'idle', session: key, idp: 'corp' });
    expect(authFacts(undefined, e, clock.now)).toMatchObject({
      action: 'session_expired',
      reason: 'idle',
      session: key,
      user: { name: 'eve@corp.example', id: 'sub-eve', idp: 'corp' },
    });
    expect(before.seen).toEqual([]);
    expect(await sessions.store.get(key)).toBeUndefined();
  });
});
