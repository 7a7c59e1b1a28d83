// The near cache against a real Redis, two managers sharing one key prefix as two replicas do: a
// cached session is served without Redis for session.cache.ttl while the invalidation channel is
// live, yet a revocation (one session, a user, an IdP logout) or a refresh on one replica reaches
// the other's cache at once; with the channel down the short TTL applies, and the channel comes
// back (resubscribed) when Redis does. Waits are event-driven: the notification itself, bounded.
import { describe, expect, it, onTestFinished } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { Secret } from '../../src/config/secret.ts';
import type { RedisConfig } from '../../src/config/types.ts';
import { createSessionManager, type SessionManager } from '../../src/session/manager.ts';
import { createRedisClient } from '../../src/session/redis-client.ts';
import { createRedisStore } from '../../src/session/redis-store.ts';
import { inspector, redisUrl, startOwnRedis, uniquePrefix, redisConfig } from '../support/redis.ts';
import { startClusterTopology } from '../support/redis-topology.ts';

const SECRET = new Secret('near-cache-secret-0123456789abcdefghijkl');
const alice = { user: 'alice@corp.example', groups: ['ml'], idp: 'corp', method: 'oidc', subject: 'sub-alice', idpSession: 'sid-1' };

const sessionConfig = compileConfig({
  server: { public_url: 'https://ml.corp.example' },
  session: { store: 'redis', redis: { url: 'redis://127.0.0.1:1' }, secret: SECRET.value() },
  routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
}).config.session;

/** One replica: a manager over its own Redis connections, on the test's clock. */
function replica(prefix: string, now: () => number, url = redisUrl(), subscriberUrl = url) {
  const client = createRedisClient(redisConfig(prefix, url), 'commands');
  const subscriber = createRedisClient(redisConfig(prefix, subscriberUrl), 'subscriber');
  const store = createRedisStore({ client, subscriber, keyPrefix: prefix, heartbeatMs: 100 });
  const revoked: string[] = [];
  const changed: string[] = [];
  store.onRevoked((keys) => revoked.push(...(keys ?? ['*'])));
  store.onChanged((keys) => changed.push(...keys));
  const manager = createSessionManager({ config: sessionConfig, secret: SECRET, store, now, cachePushedTtlMs: 60_000 });
  onTestFinished(() => manager.close());
  return { manager, store, subscriber, revoked, changed };
}

async function twoReplicas() {
  const prefix = uniquePrefix();
  const clock = { now: Date.now() };
  const now = () => clock.now;
  const a = replica(prefix, now);
  const b = replica(prefix, now);
  await expect.poll(() => a.store.invalidationLive() && b.store.invalidationLive(), { timeout: 10_000 }).toBe(true);
  return { prefix, clock, a, b };
}

const state = async (m: SessionManager, cookie: string) => (await m.lookup(cookie)).state;

describe('near cache with pushed invalidation (real Redis, two replicas)', () => {
  it('serves a cached session without Redis for the pushed TTL, and a revocation on A refuses it on B once heard', async () => {
    const { prefix, clock, a, b } = await twoReplicas();
    const s = await a.manager.create(alice);
    expect(await state(b.manager, s.cookieValue)).toBe('active');
    // Deleted behind Gatehouse's back (no notification): B's copy is still served 30 s later,
    // proof that the near cache, not Redis, answers.
    const redis = inspector();
    const raw = await redis.get(`${prefix}s:${s.key}`);
    await redis.del(`${prefix}s:${s.key}`);
    clock.now += 30_000;
    expect(await state(b.manager, s.cookieValue)).toBe('active');
    await redis.set(`${prefix}s:${s.key}`, raw!, 'PX', 600_000);

    await a.manager.revoke(s.key);
    await expect.poll(() => b.revoked, { timeout: 5000 }).toContain(s.key);
    expect(await state(b.manager, s.cookieValue)).toBe('revoked');
  });

  it('revoking a user, or an IdP session (back-channel logout), on A ends every cached copy on B', async () => {
    const { a, b } = await twoReplicas();
    const s1 = await a.manager.create(alice);
    const s2 = await b.manager.create(alice);
    const s3 = await a.manager.create({ ...alice, idpSession: 'sid-2' });
    for (const s of [s1, s2, s3]) expect(await state(b.manager, s.cookieValue)).toBe('active');
    expect((await a.manager.revokeByIdp('corp', { idpSession: 'sid-2' })).map((r) => r.key).sort()).toEqual([s3.key]);
    await expect.poll(() => b.revoked, { timeout: 5000 }).toContain(s3.key);
    expect(await state(b.manager, s3.cookieValue)).toBe('revoked');
    expect(await state(b.manager, s1.cookieValue)).toBe('active');
    expect((await a.manager.revokeUser(alice.user)).sort()).toEqual([s1.key, s2.key].sort());
    await expect.poll(() => b.revoked, { timeout: 5000 }).toEqual(expect.arrayContaining([s1.key, s2.key]));
    expect(await state(b.manager, s1.cookieValue)).toBe('revoked');
    expect(await state(b.manager, s2.cookieValue)).toBe('revoked');
  });

  it('a refresh on A (new groups) replaces the cached copy on B', async () => {
    const { a, b } = await twoReplicas();
    const s = await a.manager.create(alice);
    const before = await b.manager.lookup(s.cookieValue);
    expect(before).toMatchObject({ state: 'active', record: { groups: ['ml'] } });
    expect(await a.manager.update(s.key, s.record, { groups: ['ml', 'admins'] })).toBeDefined();
    await expect.poll(() => b.changed, { timeout: 5000 }).toContain(s.key);
    expect(await b.manager.lookup(s.cookieValue)).toMatchObject({ state: 'active', record: { groups: ['ml', 'admins'] } });
  });

  it('with the invalidation channel down, a cached copy is trusted for the short TTL only', async () => {
    const prefix = uniquePrefix();
    const clock = { now: Date.now() };
    // Commands reach Redis; the subscriber never connects (nothing listens on port 1).
    const b = replica(prefix, () => clock.now, redisUrl(), 'redis://127.0.0.1:1');
    const a = replica(prefix, () => clock.now);
    await expect.poll(() => a.store.invalidationLive(), { timeout: 10_000 }).toBe(true);
    expect(b.store.invalidationLive()).toBe(false);
    const s = await a.manager.create(alice);
    expect(await state(b.manager, s.cookieValue)).toBe('active');
    await a.manager.revoke(s.key);
    // B heard nothing; its copy is younger than the short TTL: served (the bounded window).
    expect(b.revoked).toEqual([]);
    expect(await state(b.manager, s.cookieValue)).toBe('active');
    clock.now += 1000;
    expect(await state(b.manager, s.cookieValue)).toBe('revoked');
  });

  it('the channel goes stale when Redis stops answering, and comes back subscribed after a restart', async () => {
    const own = await startOwnRedis();
    const prefix = uniquePrefix();
    const clock = { now: Date.now() };
    const a = replica(prefix, () => clock.now, own.url);
    const b = replica(prefix, () => clock.now, own.url);
    await expect.poll(() => a.store.invalidationLive() && b.store.invalidationLive(), { timeout: 10_000 }).toBe(true);
    await own.stop();
    await expect.poll(() => b.store.invalidationLive(), { timeout: 10_000 }).toBe(false);
    await own.start();
    await expect.poll(() => a.store.invalidationLive() && b.store.invalidationLive(), { timeout: 20_000 }).toBe(true);
    // Missed notifications were announced (caches start over), and new ones are heard again.
    expect(b.revoked).toContain('*');
    // The command connections reconnect on their own schedule, apart from the subscribers.
    const answers = async (store: typeof a.store) =>
      store.ping().then(
        () => true,
        () => false,
      );
    await expect.poll(async () => (await answers(a.store)) && (await answers(b.store)), { timeout: 20_000 }).toBe(true);
    const s = await a.manager.create(alice);
    expect(await state(b.manager, s.cookieValue)).toBe('active');
    await a.manager.revoke(s.key);
    await expect.poll(() => b.revoked, { timeout: 5000 }).toContain(s.key);
    expect(await state(b.manager, s.cookieValue)).toBe('revoked');
  });

  it('on Redis Cluster the channel is live through the node connection ioredis subscribes on, and revocations arrive', {
    timeout: 60_000,
  }, async () => {
    const topo = await startClusterTopology(3);
    const prefix = uniquePrefix();
    const config: RedisConfig = {
      ...redisConfig(prefix, 'redis://127.0.0.1:1'),
      mode: 'cluster',
      url: undefined,
      nodes: topo.seeds.map((s) => ({ host: '127.0.0.1', port: Number(s.split(':')[1]) })),
    };
    const clock = { now: Date.now() };
    const make = () => {
      const store = createRedisStore({
        client: createRedisClient(config, 'commands'),
        subscriber: createRedisClient(config, 'subscriber'),
        keyPrefix: prefix,
        heartbeatMs: 100,
      });
      const revoked: string[] = [];
      store.onRevoked((keys) => revoked.push(...(keys ?? ['*'])));
      const manager = createSessionManager({ config: sessionConfig, secret: SECRET, store, now: () => clock.now });
      onTestFinished(() => manager.close());
      return { store, manager, revoked };
    };
    const a = make();
    const b = make();
    await expect.poll(() => a.store.invalidationLive() && b.store.invalidationLive(), { timeout: 20_000 }).toBe(true);
    const s = await a.manager.create(alice);
    expect(await state(b.manager, s.cookieValue)).toBe('active');
    await a.manager.revoke(s.key);
    await expect.poll(() => b.revoked, { timeout: 5000 }).toContain(s.key);
    expect(await state(b.manager, s.cookieValue)).toBe('revoked');
  });
});
