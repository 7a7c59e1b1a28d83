// How revocations reach this process: named keys drop their cached copy and close their live
// connections at once; a "may have missed some" notification clears the cache and re-checks every
// session holding live connections against the store.
import { describe, expect, it } from 'vitest';
import { SessionCache } from '../../src/session/cache.ts';
import { createLiveRegistry, patLiveKey } from '../../src/session/live.ts';
import { followRevocations } from '../../src/session/revocation.ts';
import type { SessionStore } from '../../src/session/store.ts';
import { record } from './store.contract.ts';
import { clockedStore } from './parts.ts';

function setup() {
  const { now, store } = clockedStore({ shared: true });
  let notify: (keys: readonly string[] | undefined) => void = () => {};
  const listened: SessionStore = Object.assign(Object.create(store) as SessionStore, {
    onRevoked: (l: typeof notify) => {
      store.onRevoked(l);
      notify = l;
    },
  });
  const cache = new SessionCache(listened, { ttlMs: 60_000, max: 10, now });
  const active = new Set<string>();
  const live = createLiveRegistry({
    recheckMs: 60_000,
    now,
    check: async (key) => (active.has(key) ? { active: true, nextExpiryAt: now() + 60_000 } : { active: false, reason: 'revoked' }),
  });
  followRevocations(listened, cache, live);
  const ended: string[] = [];
  const watch = (key: string) => live.watch(key, now() + 60_000, { end: (why) => ended.push(`${key}:${why}`) });
  return { store, cache, live, active, ended, watch, notify: (keys: readonly string[] | undefined) => notify(keys) };
}

describe('followRevocations', () => {
  it('drops a revoked session from the cache and closes its live connections', async () => {
    const { store, cache, live, ended, watch } = setup();
    await store.set('a', record('alice'), 60_000);
    cache.put('a', record('alice'));
    cache.put('b', record('bob'));
    watch('a');
    watch('b');
    await store.revoke('a', 60_000);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBeDefined();
    expect(ended).toEqual(['a:revoked']);
    expect(live.size()).toBe(1);
    live.close();
  });

  it('after missed notifications, clears the cache and re-checks every live session', async () => {
    const { cache, live, active, ended, watch, notify } = setup();
    cache.put('a', record('alice'));
    watch('a');
    watch('b');
    active.add('b');
    notify(undefined);
    expect(cache.peek('a')).toBeUndefined();
    await expect.poll(() => ended).toEqual(['a:revoked']);
    expect(live.has('b')).toBe(true);
    live.close();
  });

  it("a connection watched with its own check (a personal access token's) is re-checked with that one", async () => {
    const { store, live, ended, notify } = setup();
    let tokenLive = true;
    let checks = 0;
    const key = patLiveKey('0123456789abcdef');
    live.watch(key, Number.POSITIVE_INFINITY, { end: (why) => ended.push(`${key}:${why}`) }, async () => {
      checks++;
      return tokenLive ? { active: true, nextExpiryAt: Number.POSITIVE_INFINITY } : { active: false, reason: 'revoked' };
    });
    // The sessions' check would end it (no session has that key); its own keeps it open.
    notify(undefined);
    await expect.poll(() => checks).toBe(1);
    expect(ended).toEqual([]);
    tokenLive = false;
    notify(undefined);
    await expect.poll(() => ended).toEqual([`${key}:revoked`]);
    // And a revocation notice for its key closes it at once, like a session's.
    live.watch(key, Number.POSITIVE_INFINITY, { end: (why) => ended.push(`${key}:${why}:notice`) }, async () => ({
      active: true,
      nextExpiryAt: Number.POSITIVE_INFINITY,
    }));
    await store.revoke(key, 1);
    expect(ended).toEqual([`${key}:revoked`, `${key}:revoked:notice`]);
    expect(live.size()).toBe(0);
    live.close();
  });
});
