// Issue 14: sessions that end unused are found by the sweeper (manager.sweepEnded), deleted with
// their index entries, and returned once — whichever replica sweeps, however often. Memory and real Redis.
import { describe, expect, it, onTestFinished } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { Secret } from '../../src/config/secret.ts';
import type { RedisConfig } from '../../src/config/types.ts';
import { createSessionManager, type SessionManager } from '../../src/session/manager.ts';
import { createMemoryStore } from '../../src/session/memory-store.ts';
import type { OneTimeStore } from '../../src/session/one-time.ts';
import { createRedisClient } from '../../src/session/redis-client.ts';
import { createRedisStore } from '../../src/session/redis-store.ts';
import { userIndex, type SessionStore } from '../../src/session/store.ts';
import { inspector, uniquePrefix, redisConfig } from '../support/redis.ts';
import { startClusterTopology } from '../support/redis-topology.ts';

/** Repeated sweeps a test allows itself to find its sessions in a shared Redis. */
const SWEEPS = 100;

/** Sweeps (bounded) until `count` ended sessions were reported: a sweep looks at a bounded number of keys. */
async function sweepFor(m: SessionManager, count: number): Promise<Awaited<ReturnType<SessionManager['sweepEnded']>>> {
  const found: Awaited<ReturnType<SessionManager['sweepEnded']>> = [];
  for (let i = 0; i < SWEEPS && found.length < count; i++) found.push(...(await m.sweepEnded(1000)));
  return found;
}

const SECRET = new Secret('0123456789abcdefghijklmnopqrstuvwxyzABCDEF');
const MIN = 60_000;

function sessionConfig(idle: string, absolute: string) {
  return compileConfig({
    server: { public_url: 'https://ml.corp.example' },
    session: { idle_timeout: idle, absolute_timeout: absolute, secret: SECRET.value() },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
  }).config.session;
}

type Backend = SessionStore & OneTimeStore;

/** One store per replica: memory replicas share one store object, Redis ones one key prefix. */
async function backends(kind: 'memory' | 'redis', count: number, now: () => number): Promise<{ stores: Backend[]; prefix: string }> {
  if (kind === 'memory') {
    const store = createMemoryStore({ maxSessions: 1000, now });
    return { stores: Array.from({ length: count }, () => store), prefix: '' };
  }
  const prefix = uniquePrefix();
  const stores: Backend[] = [];
  for (let i = 0; i < count; i++) {
    const c = redisConfig(prefix);
    const client = createRedisClient(c, 'commands');
    const store = createRedisStore({ client, subscriber: createRedisClient(c, 'subscriber'), keyPrefix: prefix, now });
    onTestFinished(() => store.close());
    await expect.poll(() => store.isReady()).toBe(true);
    stores.push(store);
  }
  return { stores, prefix };
}

async function replicas(kind: 'memory' | 'redis', count: number, idle = '30m', absolute = '12h') {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const { stores, prefix } = await backends(kind, count, now);
  const managers: SessionManager[] = stores.map((store) =>
    createSessionManager({ config: sessionConfig(idle, absolute), secret: SECRET, store, now, cacheTtlMs: 0 }),
  );
  return { clock, managers, prefix };
}

const person = (user: string) => ({ user, groups: ['ml'], idp: 'corp', method: 'oidc', subject: `sub-${user}` });
const flush = () => new Promise((r) => setTimeout(r, 0));

describe.each(['memory', 'redis'] as const)('session sweeper (%s)', (kind) => {
  it('returns and deletes exactly the ended sessions, with user and why; a second sweep finds none', async () => {
    const { clock, managers, prefix } = await replicas(kind, 1);
    const m = managers[0]!;
    const ended = await m.create(person('ann@corp.example'));
    const renewed = await m.create(person('ben@corp.example'));
    clock.now += 20 * MIN;
    const fresh = await m.create(person('cid@corp.example'));
    expect((await m.resolve(renewed.key)).state).toBe('active');
    await flush();
    clock.now += 11 * MIN;

    const swept = await sweepFor(m, 1);
    expect(swept.map((s) => [s.key, s.record.user, s.record.idp, s.why])).toEqual([[ended.key, 'ann@corp.example', 'corp', 'idle']]);
    expect(await m.store.get(ended.key)).toBeUndefined();
    expect(await m.store.get(renewed.key)).toBeDefined();
    expect(await m.store.get(fresh.key)).toBeDefined();
    expect(await m.list('ben@corp.example')).toHaveLength(1);
    if (kind === 'redis') {
      // Its index entries went with it (as when a lookup finds it ended).
      expect(await inspector().smembers(`${prefix}i:${userIndex('ann@corp.example')}`)).toEqual([]);
      expect(await inspector().smembers(`${prefix}i:sub:corp:sub-ann@corp.example`)).toEqual([]);
    }
    expect(await m.sweepEnded(1000)).toEqual([]);
  });

  it('deletes a record only while it is the one scanned: a renewal meanwhile wins, and only one delete counts', async () => {
    const { managers } = await replicas(kind, 1);
    const store = managers[0]!.store;
    const a = await managers[0]!.create(person('fay@corp.example'));
    const b = await managers[0]!.create(person('gus@corp.example'));
    const entries = new Map<string, Awaited<ReturnType<SessionStore['scan']>>['entries'][number][1]>();
    let cursor = '0';
    // A whole SCAN cycle: the test Redis is shared with every other test file, so it may hold many keys.
    for (let i = 0; i < 10_000; i++) {
      const step = await store.scan(cursor, 1000);
      for (const [k, r] of step.entries) entries.set(k, r);
      cursor = step.cursor;
      if (cursor === '0') break;
    }
    expect([...entries.keys()].sort()).toEqual([a.key, b.key].sort());
    const renewed = { ...entries.get(a.key)!, lastSeenAt: entries.get(a.key)!.lastSeenAt + 1 };
    expect(await store.touch(a.key, renewed, 60_000)).toBe(true);
    expect(await store.deleteIfUnchanged(a.key, entries.get(a.key)!)).toBe(false);
    expect(await store.get(a.key)).toEqual(renewed);
    expect(await store.deleteIfUnchanged(b.key, entries.get(b.key)!)).toBe(true);
    expect(await store.deleteIfUnchanged(b.key, entries.get(b.key)!)).toBe(false);
    expect(await store.get(b.key)).toBeUndefined();
  });

  it('names an absolute end', async () => {
    const { clock, managers } = await replicas(kind, 1, '30m', '1h');
    const m = managers[0]!;
    const s = await m.create(person('dee@corp.example'));
    for (let i = 0; i < 2; i++) {
      clock.now += 20 * MIN;
      expect((await m.resolve(s.key)).state).toBe('active');
      await flush();
    }
    clock.now += 20 * MIN;
    expect((await sweepFor(m, 1)).map((e) => [e.key, e.why])).toEqual([[s.key, 'absolute']]);
  });

  it('two replicas sweeping at once report each ended session once in total; the limit bounds a sweep', async () => {
    const { clock, managers } = await replicas(kind, 2);
    const [a, b] = managers as [SessionManager, SessionManager];
    const old = await Promise.all(Array.from({ length: 30 }, (_, i) => a.create(person(`u${i}@corp.example`))));
    clock.now += 31 * MIN;
    const live = await Promise.all(Array.from({ length: 5 }, (_, i) => b.create(person(`v${i}@corp.example`))));

    // A sweep looks at a bounded number of keys and the test Redis is shared with every other test
    // file, so sweeps are repeated (bounded) until the 30 are found.
    let first: Awaited<ReturnType<SessionManager['sweepEnded']>> = [];
    for (let i = 0; i < SWEEPS && first.length === 0; i++) first = await a.sweepEnded(4);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThanOrEqual(4);
    const found = [...first];
    for (let i = 0; i < SWEEPS && found.length < 30; i++)
      found.push(...(await Promise.all([a.sweepEnded(1000), b.sweepEnded(1000)])).flat());
    const keys = found.map((e) => e.key);
    expect(keys.length).toBe(30);
    expect(new Set(keys)).toEqual(new Set(old.map((s) => s.key)));
    for (const s of live) expect(await a.store.get(s.key)).toBeDefined();
    for (let i = 0; i < 3; i++) expect([...(await a.sweepEnded(1000)), ...(await b.sweepEnded(1000))]).toEqual([]);
  });
});

describe('session sweeper when the store fails mid-sweep', () => {
  it('returns those it already deleted (they still get their record); the next sweep takes the rest', async () => {
    const clock = { now: 1_700_000_000_000 };
    const now = () => clock.now;
    const memory = createMemoryStore({ maxSessions: 100, now });
    const store = Object.create(memory) as Backend;
    let deletes = 0;
    store.deleteIfUnchanged = async (key, record) => {
      if (++deletes === 2) throw new Error('store unavailable');
      return memory.deleteIfUnchanged(key, record);
    };
    const m = createSessionManager({ config: sessionConfig('30m', '12h'), secret: SECRET, store, now });
    const old = await Promise.all(Array.from({ length: 3 }, (_, i) => m.create(person(`f${i}@corp.example`))));
    clock.now += 31 * MIN;
    const first = await m.sweepEnded(1000);
    expect(first).toHaveLength(1);
    const rest = await m.sweepEnded(1000);
    expect(new Set([...first, ...rest].map((e) => e.key))).toEqual(new Set(old.map((s) => s.key)));
    expect([...first, ...rest]).toHaveLength(3);
  });
});

describe('session sweeper timer (redis)', () => {
  it('two replicas sweeping every interval report each ended session once', async () => {
    const { clock, managers } = await replicas('redis', 2);
    const [a, b] = managers as [SessionManager, SessionManager];
    onTestFinished(() => Promise.all([a.close(), b.close()]).then(() => undefined));
    const old = await Promise.all(Array.from({ length: 10 }, (_, i) => a.create(person(`t${i}@corp.example`))));
    clock.now += 31 * MIN;
    const reported: string[] = [];
    const errors: unknown[] = [];
    for (const m of [a, b])
      m.sweepEvery(
        50,
        (ended) => reported.push(...ended.map((e) => e.key)),
        (err) => errors.push(err),
      );
    await expect.poll(() => reported.length, { timeout: 20_000 }).toBe(10);
    expect(new Set(reported)).toEqual(new Set(old.map((s) => s.key)));
    expect(errors).toEqual([]);
  });
});

describe('session sweeper (Redis Cluster)', () => {
  it('walks every master: ended sessions in every slot are swept once', { timeout: 60_000 }, async () => {
    const topo = await startClusterTopology(3);
    const prefix = uniquePrefix();
    const c: RedisConfig = {
      ...redisConfig(prefix),
      mode: 'cluster',
      nodes: topo.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    };
    const clock = { now: 1_700_000_000_000 };
    const now = () => clock.now;
    const store = createRedisStore({
      client: createRedisClient(c, 'commands'),
      subscriber: createRedisClient(c, 'subscriber'),
      keyPrefix: prefix,
      now,
    });
    onTestFinished(() => store.close());
    await expect.poll(() => store.isReady(), { timeout: 15_000 }).toBe(true);
    const m = createSessionManager({ config: sessionConfig('30m', '12h'), secret: SECRET, store, now, cacheTtlMs: 0 });
    const old = await Promise.all(Array.from({ length: 20 }, (_, i) => m.create(person(`w${i}@corp.example`))));
    clock.now += 31 * MIN;
    const live = await m.create(person('live@corp.example'));
    const swept = await m.sweepEnded(1000);
    expect(new Set(swept.map((e) => e.key))).toEqual(new Set(old.map((s) => s.key)));
    expect(swept).toHaveLength(20);
    for (const s of old) expect(await store.get(s.key)).toBeUndefined();
    expect(await store.get(live.key)).toBeDefined();
    expect(await m.sweepEnded(1000)).toEqual([]);
  });
});

describe('session sweeper (redis): round trips', () => {
  it('reads the records of a scan step with one MGET, not a GET per session', async () => {
    const { clock, managers, prefix } = await replicas('redis', 1);
    const m = managers[0]!;
    for (let i = 0; i < 1200; i++) await m.create(person(`u${i}@corp.example`));
    clock.now += 31 * MIN;
    // Every command a client sends on this test's keys (the prefix is the test's own); the
    // delete script's own GET runs inside Redis (source "lua") and is not a round trip.
    const monitor = await inspector().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((a) => a.startsWith(`${prefix}s:`))) seen.push(String(args[0]).toLowerCase());
    });
    onTestFinished(() => monitor.disconnect());
    const swept = await sweepFor(m, 1200);
    expect(swept).toHaveLength(1200);
    await expect.poll(() => seen.filter((c) => c === 'mget').length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    expect(seen.filter((c) => c === 'get')).toEqual([]);
  });
});
