// Issue 12, item 4: the session store's readiness is a real PING, kept about a second and shared
// by concurrent probes and scrapes; identity providers are described, never counted.
import { describe, expect, it } from 'vitest';
import { createReadiness, createStoreProbe, idpReports } from '../../src/admin/readiness.ts';
import { GatehouseError } from '../../src/errors.ts';
import { createMemoryStore } from '../../src/session/memory-store.ts';
import type { SessionStore } from '../../src/session/store.ts';

/** A real memory store whose PINGs are counted, and can be made to fail or to wait. */
function countedStore() {
  const store = createMemoryStore({ maxSessions: 10 });
  const state = { pings: 0, fail: false, release: undefined as (() => void) | undefined, hold: false };
  const counted: SessionStore = {
    ...store,
    async ping() {
      state.pings++;
      if (state.hold) await new Promise<void>((r) => (state.release = r));
      if (state.fail) throw new GatehouseError('GH_STORE_UNAVAILABLE', 'session store (redis) ping failed: Command timed out');
      await store.ping();
    },
  };
  return { store: counted, state };
}

describe('store readiness probe', () => {
  it('pings at most once per TTL and reuses the answer meanwhile', async () => {
    let now = 1_000_000;
    const probe = createStoreProbe(1000, () => now);
    const { store, state } = countedStore();
    expect(await probe.check(store)).toEqual({ ok: true, detail: 'ok' });
    now += 999;
    await probe.check(store);
    await probe.check(store);
    expect(state.pings).toBe(1);
    now += 1;
    await probe.check(store);
    expect(state.pings).toBe(2);
  });

  it('concurrent checks share the PING in flight', async () => {
    const probe = createStoreProbe(1000);
    const { store, state } = countedStore();
    state.hold = true;
    const checks = Array.from({ length: 10 }, () => probe.check(store));
    await expect.poll(() => state.release).toBeDefined();
    state.release!();
    expect(new Set(await Promise.all(checks)).size).toBe(1);
    expect(state.pings).toBe(1);
  });

  it('a failed PING is not ready, with the reason; the next one after the TTL decides again', async () => {
    let now = 0;
    const probe = createStoreProbe(1000, () => now);
    const { store, state } = countedStore();
    state.fail = true;
    expect(await probe.check(store)).toEqual({ ok: false, detail: 'session store (redis) ping failed: Command timed out' });
    state.fail = false;
    expect((await probe.check(store)).ok).toBe(false);
    now += 1000;
    expect((await probe.check(store)).ok).toBe(true);
  });

  it('a new store (a reload) is checked afresh', async () => {
    const probe = createStoreProbe(60_000);
    const a = countedStore();
    const b = countedStore();
    a.state.fail = true;
    expect((await probe.check(a.store)).ok).toBe(false);
    expect((await probe.check(b.store)).ok).toBe(true);
  });
});

describe('identity provider report', () => {
  it('states status, since, error and what it means for users', () => {
    const r = idpReports([
      {
        id: 'corp',
        type: 'oidc',
        status: 'unreachable',
        since: Date.UTC(2026, 0, 2),
        error: 'fetch failed (connect ECONNREFUSED 127.0.0.1:1)',
      },
      { id: 'okta', type: 'saml', status: 'ok', since: Date.UTC(2026, 0, 1), error: 'stale' },
    ]);
    expect(r).toEqual({
      corp: {
        type: 'oidc',
        status: 'unreachable',
        since: '2026-01-02T00:00:00.000Z',
        error: 'fetch failed (connect ECONNREFUSED 127.0.0.1:1)',
        impact: 'new sign-ins with this identity provider fail (503); signed-in users are not affected',
      },
      okta: { type: 'saml', status: 'ok', since: '2026-01-01T00:00:00.000Z', impact: 'none' },
    });
  });
});

describe('readiness report', () => {
  const unreachable = { id: 'corp', type: 'oidc' as const, status: 'unreachable' as const, since: Date.UTC(2026, 0, 2), error: 'down' };

  function readiness(opts: { draining?: boolean; storeFails?: boolean; audit?: { ok: boolean; checks: Record<string, string> } }) {
    const { store, state } = countedStore();
    state.fail = opts.storeFails ?? false;
    return createReadiness({
      probe: createStoreProbe(),
      current: () => ({ store, idps: () => [unreachable] }),
      audit: { ready: () => opts.audit ?? { ok: true, checks: { audit_stdout: 'ok' } } },
      draining: () => opts.draining ?? false,
    })();
  }

  it('is ready with an unreachable identity provider, which it describes', async () => {
    const r = await readiness({});
    expect(r.ok).toBe(true);
    expect(r.checks).toEqual({ listener: 'ok', session_store: 'memory: ok', audit_stdout: 'ok' });
    expect(r.identityProviders?.corp?.status).toBe('unreachable');
  });

  it('is not ready while draining, when the store fails its PING, or when the audit trail cannot serve', async () => {
    expect(await readiness({ draining: true })).toMatchObject({ ok: false, checks: { listener: 'draining' } });
    expect(await readiness({ storeFails: true })).toMatchObject({
      ok: false,
      checks: { session_store: 'memory: unavailable (session store (redis) ping failed: Command timed out)' },
    });
    expect(await readiness({ audit: { ok: false, checks: { audit_file: 'blocked' } } })).toMatchObject({
      ok: false,
      checks: { listener: 'ok', audit_file: 'blocked' },
    });
  });
});
