// Two Gatehouse replicas sharing sessions through a real Redis Sentinel setup and a real Redis
// Cluster (processes started by the test on 127.0.0.1): a session made on one replica works on
// the other, the admin API lists and revokes it, and revocation ends the next request elsewhere.
// A topology that cannot be started fails the test with the reason; nothing is skipped.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { getJson } from '../support/http.ts';
import { uniquePrefix } from '../support/redis.ts';
import { redisCli, startClusterTopology, startSentinelTopology, waitUntil, type RedisProcess } from '../support/redis-topology.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const ADMIN_TOKEN = 'admin-token-for-topology-tests';
const SECRET = 'session-secret-for-topology-tests-0123456789';
const ALICE = { user: 'alice@corp.example', email: 'alice@corp.example', groups: ['ml-users'], idp: 'corp', method: 'test' };
const USER = encodeURIComponent(ALICE.user);

function config(up: TestUpstream, redis: Record<string, unknown>) {
  return {
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    session: { store: 'redis', redis, secret: SECRET, cookie: { secure: false } },
    routes: [{ name: 'app', upstream: up.url, allow: { authenticated: true } }],
  };
}

async function twoReplicas(up: TestUpstream, redis: Record<string, unknown>): Promise<[StartedGatehouse, StartedGatehouse]> {
  return Promise.all([startTestGatehouse(config(up, redis)), startTestGatehouse(config(up, redis))]);
}

const admin = async (gh: StartedGatehouse, method: 'GET' | 'DELETE', path: string) => {
  const r = await request(`${gh.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/json' },
  });
  return { status: r.statusCode, body: (await r.body.json()) as any };
};

/** An API client's request through `gh` with the session cookie. */
const api = (gh: StartedGatehouse, cookieValue: string, path = '/api/2.0/runs') =>
  getJson(`${gh.url}${path}`, { cookie: `gatehouse=${cookieValue}` });

async function expectReady(gh: StartedGatehouse): Promise<void> {
  const r = await getJson(`${gh.adminUrl}/readyz`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.checks.session_store).toBe('redis: ok');
}

/**
 * Both replicas subscribe to a revocation channel under their key prefix in the background while
 * they start; wait until `count` subscriptions to such channels exist (summed over `nodes`), so
 * the test measures revocation, not start-up.
 */
async function waitForSubscribers(nodes: readonly RedisProcess[], prefix: string, count: number): Promise<void> {
  const subscriptions = async (n: RedisProcess) => {
    const channels = (await redisCli(['-p', String(n.port), 'pubsub', 'channels', `${prefix}*`])).split('\n').filter(Boolean);
    if (channels.length === 0) return 0;
    const out = (await redisCli(['-p', String(n.port), 'pubsub', 'numsub', ...channels])).split('\n');
    return out.filter((_, i) => i % 2 === 1).reduce((a, v) => a + Number(v), 0);
  };
  await waitUntil(
    `Gatehouse never made ${count} subscriptions under ${prefix}`,
    async () => (await Promise.all(nodes.map(subscriptions))).reduce((a, b) => a + b, 0) >= count,
    () => '',
    10_000,
  );
}

/** Every key under `prefix` on `nodes` (SCAN per node; in a cluster each node holds its own slots). */
async function keysUnder(nodes: readonly RedisProcess[], prefix: string): Promise<string[]> {
  const perNode = await Promise.all(nodes.map((n) => redisCli(['-p', String(n.port), '--scan', '--pattern', `${prefix}*`])));
  return perNode.flatMap((out) => out.split('\n').filter(Boolean));
}

/** The keys under `prefix` that belong to session `key` (the store's layout is its own business). */
async function sessionKeys(nodes: readonly RedisProcess[], prefix: string, key: string): Promise<string[]> {
  return (await keysUnder(nodes, prefix)).filter((k) => k.includes(key));
}

describe('Redis Sentinel', () => {
  it('two replicas share sessions through the master the Sentinel names; revocation on one ends the next request on the other', {
    timeout: 60_000,
  }, async () => {
    const topo = await startSentinelTopology('mymaster');
    const up = await startUpstream();
    const prefix = uniquePrefix();
    const [a, b] = await twoReplicas(up, { sentinels: topo.sentinels, name: topo.masterName, key_prefix: prefix });
    await expectReady(a);
    await expectReady(b);
    await waitForSubscribers([topo.master], prefix, 2);

    const s = await a.current().sessions.create(ALICE);
    // The session lives on the master the Sentinel pointed at.
    const stored = await sessionKeys([topo.master], prefix, s.key);
    expect(stored.length, 'session keys on the master').toBeGreaterThan(0);

    const ok = await api(b, s.cookieValue);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(up.seen).toHaveLength(1);
    expect(up.seen[0]!.headers.cookie).toBeUndefined();

    const del = await admin(a, 'DELETE', `/admin/users/${USER}/sessions`);
    expect(del).toEqual({ status: 200, body: { user: ALICE.user, revoked: 1, tokens_revoked: 0 } });

    const after = await api(b, s.cookieValue);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('GH_UNAUTHENTICATED');
    expect((await api(a, s.cookieValue)).status).toBe(401);
    expect(up.seen).toHaveLength(1);
    // The record is gone from the master (a revocation tombstone may take its place).
    for (const k of stored) expect(await redisCli(['-p', String(topo.master.port), 'exists', k]), k).toBe('0');

    await expectReady(a);
    await expectReady(b);
  });
});

describe('Redis Cluster', () => {
  it('two replicas share sessions across slots; the admin API lists them and revocation on one ends the next request on the other', {
    timeout: 60_000,
  }, async () => {
    const topo = await startClusterTopology(3);
    const up = await startUpstream();
    const prefix = uniquePrefix();
    const [a, b] = await twoReplicas(up, { cluster: topo.seeds, key_prefix: prefix });
    await expectReady(a);
    await expectReady(b);
    await waitForSubscribers(topo.nodes, prefix, 2);

    const s1 = await a.current().sessions.create(ALICE);
    const s2 = await b.current().sessions.create(ALICE);
    const bob = await a.current().sessions.create({ ...ALICE, user: 'bob', email: 'bob@corp.example' });

    // Everything under the prefix is spread over more than one slot, yet every session was stored.
    const all = await keysUnder(topo.nodes, prefix);
    const seed = String(topo.nodes[0]!.port);
    const slots = await Promise.all(all.map(async (k) => Number(await redisCli(['-p', seed, 'cluster', 'keyslot', k]))));
    expect(new Set(slots).size, `keys ${all.join(', ')} in slots ${slots.join(', ')}`).toBeGreaterThan(1);
    for (const s of [s1, s2, bob])
      expect(
        all.some((k) => k.includes(s.key)),
        `a key of session ${s.key}`,
      ).toBe(true);

    // Each session works on the replica that did not create it (B's cache is warm for s1).
    const warmedAt = Date.now();
    expect((await api(b, s1.cookieValue)).status).toBe(200);
    expect((await api(a, s2.cookieValue)).status).toBe(200);

    const listed = await admin(a, 'GET', `/admin/sessions?user=${USER}`);
    expect(listed.status).toBe(200);
    expect(listed.body.user).toBe(ALICE.user);
    expect(listed.body.sessions.map((x: { id: string }) => x.id).sort()).toEqual([s1.key, s2.key].sort());
    expect(listed.body.sessions.every((x: { user: string }) => x.user === ALICE.user)).toBe(true);

    const del = await admin(a, 'DELETE', `/admin/users/${USER}/sessions`);
    expect(del).toEqual({ status: 200, body: { user: ALICE.user, revoked: 2, tokens_revoked: 0 } });

    // In a cluster the revocation notice reaches B's subscriber over the cluster bus, which can
    // lag the DELETE's answer by a few ms, so B's very next request may still be served from its
    // 1 s cache. Poll briefly instead, and check the flip came well before that cache expired:
    // only the notice can explain it.
    let servedLate = 0;
    await expect
      .poll(
        async () => {
          const r = await api(b, s1.cookieValue);
          if (r.status === 200) servedLate++;
          return r.status;
        },
        { timeout: 500, interval: 5 },
      )
      .toBe(401);
    expect(Date.now() - warmedAt, 'B dropped its cached copy because of the notice, not cache expiry').toBeLessThan(1000);
    const after = await api(b, s1.cookieValue);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('GH_UNAUTHENTICATED');
    // One notice carried both keys: s2, cached on B since B created it, is gone too.
    expect((await api(b, s2.cookieValue)).status).toBe(401);
    expect((await api(a, s1.cookieValue)).status).toBe(401);
    expect((await api(b, bob.cookieValue)).status).toBe(200);
    expect((await admin(b, 'GET', `/admin/sessions?user=${USER}`)).body.sessions).toEqual([]);
    // Two requests before revocation, bob's after it, and any B served before the notice came.
    expect(up.seen).toHaveLength(3 + servedLate);

    await expectReady(a);
    await expectReady(b);
  });
});
