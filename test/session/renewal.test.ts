// Throttled sliding renewal: at most one store write per tenth of the idle timeout, one in flight
// per session, never resurrecting a session that ended meanwhile; live-connection traffic counts.
import { describe, expect, it } from 'vitest';
import { SessionCache } from '../../src/session/cache.ts';
import { Expiry } from '../../src/session/expiry.ts';
import { Renewal } from '../../src/session/renewal.ts';
import type { SessionStore } from '../../src/session/store.ts';
import { record } from './store.contract.ts';
import { clockedStore, flush } from './parts.ts';

function setup(onError: (err: unknown) => void = () => {}) {
  const { clock, now, store } = clockedStore({ shared: true });
  const touches: string[] = [];
  const counted: SessionStore = Object.assign(Object.create(store) as SessionStore, {
    touch: (key: string, r: Parameters<SessionStore['touch']>[1], ttl: number) => (touches.push(key), store.touch(key, r, ttl)),
  });
  const cache = new SessionCache(counted, { ttlMs: 60_000, max: 10, now });
  const renewal = new Renewal(counted, cache, new Expiry(30 * 60_000, 12 * 3600_000), { now, onError });
  const fresh = () => record('alice', { createdAt: clock.now, lastSeenAt: clock.now, absoluteExpiresAt: clock.now + 12 * 3600_000 });
  return { clock, store, cache, renewal, touches, fresh };
}

describe('Renewal', () => {
  it('is due once a tenth of the idle timeout has passed (at least 100 ms)', () => {
    const { clock, store, cache, renewal, fresh } = setup();
    const r = fresh();
    expect(renewal.everyMs).toBe(3 * 60_000);
    expect(renewal.due(r, clock.now + 3 * 60_000 - 1)).toBe(false);
    expect(renewal.due(r, clock.now + 3 * 60_000)).toBe(true);
    expect(new Renewal(store, cache, new Expiry(500, 1000), { now: Date.now, onError: () => {} }).everyMs).toBe(100);
  });

  it('caches the renewed record at once and writes it with one store call in flight per session', async () => {
    const { clock, store, cache, renewal, touches, fresh } = setup();
    const r = fresh();
    await store.set('k', r, 30 * 60_000);
    clock.now += 5 * 60_000;
    const renewed = renewal.renew('k', r, clock.now);
    renewal.renew('k', r, clock.now);
    expect(renewed.lastSeenAt).toBe(clock.now);
    expect(cache.peek('k')).toEqual(renewed);
    expect(touches).toEqual(['k']);
    await flush();
    expect((await store.get('k'))?.lastSeenAt).toBe(clock.now);
    renewal.renew('k', renewed, clock.now);
    expect(touches).toEqual(['k', 'k']);
  });

  it('never resurrects a session that ended meanwhile, and drops its cached copy', async () => {
    const { clock, store, cache, renewal, fresh } = setup();
    renewal.renew('gone', fresh(), clock.now);
    await flush();
    expect(await store.get('gone')).toBeUndefined();
    expect(cache.peek('gone')).toBeUndefined();
  });

  it('reports a failed background write', async () => {
    const errors: unknown[] = [];
    const { clock, store, renewal, fresh } = setup((err) => errors.push(err));
    Object.assign(store, { touch: () => Promise.reject(new Error('store down')) });
    renewal.renew('k', fresh(), clock.now);
    await flush();
    expect(errors).toHaveLength(1);
  });

  it('treats live-connection traffic as use, throttled, reading the session when nothing is cached', async () => {
    const { clock, store, cache, renewal, touches, fresh } = setup();
    const resolved: string[] = [];
    const resolve = async (key: string) => void resolved.push(key);
    renewal.activity('k', resolve);
    expect(resolved).toEqual(['k']);
    const r = fresh();
    await store.set('k', r, 60_000);
    cache.put('k', r);
    clock.now += 60_000;
    renewal.activity('k', resolve);
    expect(touches).toEqual([]);
    clock.now += 3 * 60_000;
    renewal.activity('k', resolve);
    renewal.activity('k', resolve);
    expect(touches).toEqual(['k']);
    expect(resolved).toEqual(['k']);
    renewal.forget('k');
    cache.drop('k');
    renewal.activity('k', resolve);
    expect(resolved).toEqual(['k', 'k']);
  });
});
