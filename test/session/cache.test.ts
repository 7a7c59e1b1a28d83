// The manager's local caches: the read-through session cache (only in front of a shared store,
// fresh for ttlMs, bounded) and the verified-cookie map (bounded, never admits a bad MAC).
import { describe, expect, it } from 'vitest';
import { SessionCache, VerifiedCookies } from '../../src/session/cache.ts';
import { createCookieCodec, sessionKey } from '../../src/session/cookie.ts';
import { record } from './store.contract.ts';
import { clockedStore } from './parts.ts';
import { createLiveRegistry } from '../../src/session/live.ts';
import { followRevocations } from '../../src/session/revocation.ts';
import type { SessionStore } from '../../src/session/store.ts';

describe('SessionCache', () => {
  it("serves a shared store's record from memory for ttlMs, then reads the store again", async () => {
    const { clock, now, store } = clockedStore({ shared: true });
    const cache = new SessionCache(store, { ttlMs: 1000, max: 10, now });
    await store.set('k', record('alice'), 60_000);
    expect(await cache.read('k', true)).toMatchObject({ record: { user: 'alice' }, cached: false });
    await store.set('k', record('bob'), 60_000);
    expect(await cache.read('k', true)).toMatchObject({ record: { user: 'alice' }, cached: true });
    // allowCache false: the store's word, which also refreshes the cached copy.
    expect(await cache.read('k', false)).toMatchObject({ record: { user: 'bob' }, cached: false });
    await store.set('k', record('carol'), 60_000);
    clock.now += 1000;
    expect(await cache.read('k', true)).toMatchObject({ record: { user: 'carol' }, cached: false });
  });

  it('forgets a record the store no longer has, and on drop and clear', async () => {
    const { now, store } = clockedStore({ shared: true });
    const cache = new SessionCache(store, { ttlMs: 60_000, max: 10, now });
    cache.put('gone', record('alice'));
    expect(await cache.read('gone', false)).toEqual({ record: undefined, cached: false });
    expect(cache.peek('gone')).toBeUndefined();
    cache.put('a', record('a'));
    cache.put('b', record('b'));
    cache.drop('a');
    expect(cache.peek('a')).toBeUndefined();
    cache.clear();
    expect(cache.peek('b')).toBeUndefined();
  });

  it('keeps at most max entries, forgetting the least recently written', () => {
    const { now, store } = clockedStore({ shared: true });
    const cache = new SessionCache(store, { ttlMs: 60_000, max: 2, now });
    cache.put('a', record('a'));
    cache.put('b', record('b'));
    cache.put('a', record('a2'));
    cache.put('c', record('c'));
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')?.user).toBe('a2');
    expect(cache.peek('c')?.user).toBe('c');
  });

  it('keeps nothing in front of a store that is not shared (the memory store is its own cache)', async () => {
    const { now, store } = clockedStore();
    const cache = new SessionCache(store, { ttlMs: 60_000, max: 10, now });
    await store.set('k', record('alice'), 60_000);
    await cache.read('k', true);
    cache.put('k', record('alice'));
    expect(cache.peek('k')).toBeUndefined();
    await store.set('k', record('bob'), 60_000);
    expect(await cache.read('k', true)).toMatchObject({ record: { user: 'bob' }, cached: false });
  });
});

/** A shared store whose invalidation channel the test switches on and off, counting reads. */
function channelStore(live = true) {
  const { clock, now, store } = clockedStore({ shared: true });
  const state = { live, gets: 0 };
  const s: SessionStore = Object.assign(Object.create(store) as SessionStore, {
    invalidationLive: () => state.live,
    get: (key: string) => {
      state.gets++;
      return store.get(key);
    },
  });
  return { clock, now, store: s, state };
}

describe('SessionCache as a near cache (pushed invalidation)', () => {
  it('serves an entry for pushedTtlMs while the channel is live, and only ttlMs once it is down', async () => {
    const { clock, now, store, state } = channelStore(true);
    const cache = new SessionCache(store, { ttlMs: 1000, pushedTtlMs: 60_000, max: 10, now });
    await store.set('k', record('alice'), 600_000);
    await cache.read('k', true);
    clock.now += 30_000;
    expect(await cache.read('k', true)).toMatchObject({ record: { user: 'alice' }, cached: true });
    expect(state.gets).toBe(1);
    // Channel down (subscriber disconnected or silent): the safe short TTL again.
    state.live = false;
    expect(await cache.read('k', true)).toMatchObject({ cached: false });
    expect(state.gets).toBe(2);
    // Fetched while down: short TTL even once the channel is back.
    state.live = true;
    clock.now += 1000;
    expect(await cache.read('k', true)).toMatchObject({ cached: false });
    expect(state.gets).toBe(3);
    clock.now += 59_999;
    expect(await cache.read('k', true)).toMatchObject({ cached: true });
    clock.now += 1;
    expect(await cache.read('k', true)).toMatchObject({ cached: false });
  });

  it('keeps no copy of an answer that raced an invalidation', async () => {
    const { now, store } = channelStore(true);
    const cache = new SessionCache(store, { ttlMs: 1000, pushedTtlMs: 60_000, max: 10, now });
    await store.set('k', record('alice'), 600_000);
    const reading = cache.read('k', true);
    cache.drop('k'); // a revocation heard between the GET and its answer
    expect((await reading).record?.user).toBe('alice');
    expect(cache.peek('k')).toBeUndefined();
    expect(await cache.read('k', true)).toMatchObject({ cached: false });
  });

  it('drops entries named by revocation and change notifications', async () => {
    const { now, store } = channelStore(true);
    const cache = new SessionCache(store, { ttlMs: 1000, pushedTtlMs: 60_000, max: 10, now });
    const live = createLiveRegistry({ recheckMs: 60_000, now, check: async () => ({ active: false, reason: 'revoked' }) });
    let changed: (keys: readonly string[]) => void = () => {};
    const listened: SessionStore = Object.assign(Object.create(store) as SessionStore, {
      onChanged: (l: typeof changed) => {
        changed = l;
      },
    });
    followRevocations(listened, cache, live);
    await store.set('a', record('alice'), 600_000);
    await store.set('b', record('bob'), 600_000);
    await cache.read('a', true);
    await cache.read('b', true);
    await store.revoke('a', 60_000);
    expect(cache.peek('a')).toBeUndefined();
    changed(['b']);
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.size).toBe(0);
    live.close();
  });

  it('concurrent misses on one session share one store read, but none started before an invalidation', async () => {
    const { now, store, state } = channelStore(true);
    const cache = new SessionCache(store, { ttlMs: 1000, pushedTtlMs: 60_000, max: 10, now });
    await store.set('k', record('alice'), 600_000);
    const answers = await Promise.all([cache.read('k', true), cache.read('k', true), cache.read('k', true)]);
    expect(answers.map((a) => a.record?.user)).toEqual(['alice', 'alice', 'alice']);
    expect(state.gets).toBe(1);
    // A read in flight when the session is revoked is not joined by later lookups.
    cache.drop('k');
    const first = cache.read('k', true);
    cache.drop('k');
    await store.revoke('k', 60_000);
    const second = cache.read('k', true);
    expect((await second).record).toBeUndefined();
    expect((await first).record?.user).toBe('alice');
    expect(cache.peek('k')).toBeUndefined();
    expect(state.gets).toBe(3);
  });

  it("a renewal's copy replaces the record but not its age", async () => {
    const { clock, now, store, state } = channelStore(true);
    const cache = new SessionCache(store, { ttlMs: 1000, pushedTtlMs: 60_000, max: 10, now });
    await store.set('k', record('alice'), 600_000);
    await cache.read('k', true);
    clock.now += 50_000;
    cache.renewed('k', { ...record('alice'), lastSeenAt: clock.now });
    expect(cache.peek('k')?.lastSeenAt).toBe(clock.now);
    clock.now += 10_000;
    expect(await cache.read('k', true)).toMatchObject({ cached: false });
    expect(state.gets).toBe(2);
  });

  it('is bounded by max, forgetting the least recently used (a hit counts as use)', async () => {
    const { now, store } = channelStore(true);
    const cache = new SessionCache(store, { ttlMs: 1000, pushedTtlMs: 60_000, max: 3, now });
    for (const k of ['a', 'b', 'c', 'd']) await store.set(k, record(k), 600_000);
    for (const k of ['a', 'b', 'c']) await cache.read(k, true);
    expect((await cache.read('a', true)).cached).toBe(true);
    await cache.read('d', true);
    expect(cache.size).toBe(3);
    expect(cache.peek('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => cache.peek(k)?.user)).toEqual(['a', 'c', 'd']);
  });
});

describe('VerifiedCookies', () => {
  const codec = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, Buffer.alloc(32, 7));

  it('maps a cookie whose MAC verifies to its store key, and refuses others', () => {
    const verified = new VerifiedCookies(codec, 10);
    const { id, value } = codec.mint();
    expect(verified.keyOf(value)).toBe(sessionKey(id));
    expect(verified.keyOf(value)).toBe(sessionKey(id));
    const forged = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
    expect(verified.keyOf(forged)).toBeUndefined();
    expect(verified.keyOf('garbage')).toBeUndefined();
  });

  it('stays bounded and still answers for values it forgot', () => {
    const verified = new VerifiedCookies(codec, 2);
    const first = codec.mint();
    const minted = [first, codec.mint(), codec.mint()];
    for (const m of minted) verified.keyOf(m.value);
    for (const m of minted) expect(verified.keyOf(m.value)).toBe(sessionKey(m.id));
    verified.clear();
    expect(verified.keyOf(first.value)).toBe(sessionKey(first.id));
  });
});
