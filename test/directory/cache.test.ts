// The directory's per-request cache against a real Redis, two directories on one key prefix as two
// replicas: while the notification channel (<prefix>directory) is live, a user's state — and "unknown
// to the directory" — is served for session.cache.ttl without a Redis command (counted by the
// server: INFO commandstats of a Redis of the test's own), yet a change on one replica drops the
// other's copy at once; with the channel down the 1 s TTL applies, and a resubscription drops the
// whole cache. Waits are event-driven (the notification itself, the heartbeat), bounded.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createDirectory, type UserFields } from '../../src/directory/directory.ts';
import { createRedisKv } from '../../src/directory/kv.ts';
import { inspector, redisUrl, startOwnRedis, uniquePrefix, redisConfig } from '../support/redis.ts';

const alice: UserFields = { user: 'alice@example.com', userName: 'alice@example.com', active: true };
const NOBODY = 'nobody@example.com';

function replica(prefix: string, clock: { now: number }, url: string, subscriberUrl = url, cacheMax = 1000) {
  const kv = createRedisKv(redisConfig(prefix, url), { heartbeatMs: 100, subscriberConfig: redisConfig(prefix, subscriberUrl) });
  const dir = createDirectory({ kv, now: () => clock.now, cacheTtlMs: 1000, cachePushedTtlMs: 300_000, cacheMax });
  onTestFinished(() => dir.close());
  return { kv, dir };
}

/** Reads the directory makes (GET, SMEMBERS) as counted by the server. */
async function reads(r: ReturnType<typeof inspector>): Promise<number> {
  const info = await r.info('commandstats');
  let n = 0;
  for (const cmd of ['get', 'smembers']) n += Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return n;
}

describe('directory cache', () => {
  it('while the channel is live, states (and unknown users) are served without Redis; a change on A drops B’s copy at once', async () => {
    const own = await startOwnRedis();
    const r = inspector(own.url);
    const prefix = uniquePrefix();
    const clock = { now: Date.now() };
    const a = replica(prefix, clock, own.url);
    const b = replica(prefix, clock, own.url);
    await Promise.all([a.dir.listening(), b.dir.listening()]);
    await expect.poll(() => a.kv.invalidationLive() && b.kv.invalidationLive(), { timeout: 10_000 }).toBe(true);
    await a.dir.upsertUser(alice, 'scim');

    const r0 = await reads(r);
    expect(await b.dir.state(alice.user)).toMatchObject({ known: true, active: true, groups: [] });
    expect(await b.dir.state(NOBODY)).toEqual({ known: false });
    const r1 = await reads(r);
    expect(r1).toBeGreaterThan(r0);
    // A minute later (far past the 1 s TTL, within session.cache.ttl): no Redis read at all.
    clock.now += 60_000;
    for (let i = 0; i < 3; i++) {
      expect(await b.dir.state(alice.user)).toMatchObject({ known: true, active: true });
      expect(await b.dir.state(NOBODY)).toEqual({ known: false });
    }
    expect(await reads(r)).toBe(r1);

    // Deactivation on A: B's copy is dropped by the notification (its age would keep it 4 more minutes).
    await a.dir.setActive(alice.user, false, 'scim');
    await expect.poll(() => b.dir.state(alice.user), { timeout: 10_000 }).toMatchObject({ known: true, active: false });
    // A user SCIM creates later: B's negative entry is dropped too.
    await a.dir.upsertUser({ ...alice, user: NOBODY, userName: NOBODY }, 'scim');
    await expect.poll(() => b.dir.state(NOBODY), { timeout: 10_000 }).toMatchObject({ known: true, active: true });
    // Group changes reach every member.
    const carol = (await a.dir.upsertUser({ ...alice, user: 'carol@example.com', userName: 'carol@example.com' }, 'scim')).user;
    const nobody = (await a.dir.getUser(NOBODY))!;
    expect(await b.dir.state(carol.user)).toMatchObject({ groups: [] });
    const { group } = await a.dir.upsertGroup({ displayName: 'ml', members: [carol.id, nobody.id] }, 'scim');
    await expect.poll(() => b.dir.state(carol.user), { timeout: 10_000 }).toMatchObject({ groups: ['ml'] });
    await expect.poll(() => b.dir.state(NOBODY), { timeout: 10_000 }).toMatchObject({ groups: ['ml'] });
    await a.dir.upsertGroup({ displayName: 'ml-ops', members: [carol.id, nobody.id] }, 'scim', group.id);
    await expect.poll(() => b.dir.state(carol.user), { timeout: 10_000 }).toMatchObject({ groups: ['ml-ops'] });
    await expect.poll(() => b.dir.state(NOBODY), { timeout: 10_000 }).toMatchObject({ groups: ['ml-ops'] });

    // Past session.cache.ttl an entry is read again even with the channel live.
    const r2 = await reads(r);
    clock.now += 300_000;
    await b.dir.state(carol.user);
    expect(await reads(r)).toBeGreaterThan(r2);
  });

  it('bounded: the least recently used state is forgotten first', async () => {
    const own = await startOwnRedis();
    const r = inspector(own.url);
    const clock = { now: Date.now() };
    const b = replica(uniquePrefix(), clock, own.url, own.url, 2);
    await b.dir.listening();
    await expect.poll(() => b.kv.invalidationLive(), { timeout: 10_000 }).toBe(true);
    await b.dir.state('x@example.com');
    await b.dir.state('y@example.com');
    await b.dir.state('x@example.com'); // hit: x becomes the most recently used
    await b.dir.state('z@example.com'); // forgets y
    const r0 = await reads(r);
    await b.dir.state('x@example.com');
    await b.dir.state('z@example.com');
    expect(await reads(r)).toBe(r0);
    await b.dir.state('y@example.com');
    expect(await reads(r)).toBeGreaterThan(r0);
  });

  it('with the channel down, a cached state is trusted for 1 s only', async () => {
    const prefix = uniquePrefix();
    const clock = { now: Date.now() };
    const a = replica(prefix, clock, redisUrl());
    // Commands reach Redis; B's subscriber never connects (nothing listens on port 1).
    const b = replica(prefix, clock, redisUrl(), 'redis://127.0.0.1:1');
    await a.dir.listening();
    await expect.poll(() => a.kv.invalidationLive(), { timeout: 10_000 }).toBe(true);
    expect(b.kv.invalidationLive()).toBe(false);
    await a.dir.upsertUser(alice, 'scim');
    expect(await b.dir.state(alice.user)).toMatchObject({ active: true });
    expect(await b.dir.state(NOBODY)).toEqual({ known: false });
    await a.dir.setActive(alice.user, false, 'ssf:https://idp.example');
    await a.dir.upsertUser({ ...alice, user: NOBODY, userName: NOBODY }, 'scim');
    // B heard nothing; its copies are younger than 1 s: served (the bounded window).
    expect(await b.dir.state(alice.user)).toMatchObject({ active: true });
    clock.now += 1000;
    expect(await b.dir.state(alice.user)).toMatchObject({ active: false });
    expect(await b.dir.state(NOBODY)).toMatchObject({ known: true });
  });

  it('a resubscription (Redis restarted) drops the whole cache', async () => {
    const own = await startOwnRedis();
    const prefix = uniquePrefix();
    const clock = { now: Date.now() };
    const a = replica(prefix, clock, own.url);
    const b = replica(prefix, clock, own.url);
    await Promise.all([a.dir.listening(), b.dir.listening()]);
    await expect.poll(() => a.kv.invalidationLive() && b.kv.invalidationLive(), { timeout: 10_000 }).toBe(true);
    await a.dir.upsertUser(alice, 'scim');
    expect(await b.dir.state(alice.user)).toMatchObject({ known: true });
    await own.stop();
    await expect.poll(() => b.kv.invalidationLive(), { timeout: 10_000 }).toBe(false);
    await own.start();
    await expect.poll(() => b.kv.invalidationLive(), { timeout: 20_000 }).toBe(true);
    // The restarted Redis kept nothing; B's copy (its age frozen at 0) is gone with the cache.
    expect(await b.dir.state(alice.user)).toEqual({ known: false });
  });
});
