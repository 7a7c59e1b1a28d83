import { describe, expect, it, onTestFinished } from 'vitest';
import { createRedisClient } from '../../src/session/redis-client.ts';
import { createRedisStore } from '../../src/session/redis-store.ts';
import { userIndex } from '../../src/session/store.ts';
import { spawn } from 'node:child_process';
import { freePort } from '../support/ports.ts';
import { inspector, uniquePrefix, redisConfig } from '../support/redis.ts';
import { waitForPort } from '../support/ports.ts';
import { createReplayGuard, oneTimeName } from '../../src/session/one-time.ts';
import { runOneTimeStoreContract } from './one-time.contract.ts';
import { record, runSessionStoreContract } from './store.contract.ts';

async function makeStore(prefix = uniquePrefix()) {
  const c = redisConfig(prefix);
  const client = createRedisClient(c, 'commands');
  const subscriber = createRedisClient(c, 'subscriber');
  const store = createRedisStore({ client, subscriber, keyPrefix: prefix });
  onTestFinished(() => store.close());
  await expect.poll(() => store.isReady()).toBe(true);
  await expect.poll(() => subscriber.status).toBe('ready');
  return store;
}

runSessionStoreContract('redis', { make: () => makeStore() });
runOneTimeStoreContract('redis', { make: () => makeStore() });

/** A redis-server of this test's own that can be paused (SIGSTOP) and resumed; killed at the end. */
async function startOwnRedis() {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  onTestFinished(() => {
    proc.kill('SIGKILL');
  });
  await waitForPort(port, 10_000, 'own redis-server not');
  return { url: `redis://127.0.0.1:${port}`, pause: () => proc.kill('SIGSTOP'), resume: () => proc.kill('SIGCONT') };
}

describe('redis store specifics', () => {
  it('stores only hashed keys, under the prefix, with a TTL', async () => {
    const prefix = uniquePrefix();
    const s = await makeStore(prefix);
    await s.set('hashkey', record('alice'), 60_000);
    const r = inspector();
    const keys = (await r.keys(`${prefix}*`)).sort();
    expect(keys).toEqual([`${prefix}i:user:alice`, `${prefix}s:hashkey`]);
    const ttl = await r.pttl(`${prefix}s:hashkey`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await r.pttl(`${prefix}i:user:alice`)).toBeGreaterThan(0);
  });

  it('keeps the one-time key names of earlier versions (rolling upgrades)', async () => {
    const prefix = uniquePrefix();
    const s = await makeStore(prefix);
    const replay = createReplayGuard(s);
    await replay.once('saml-assertion', 'corp', '_a1', 60_000);
    await replay.once('saml-slo', 'corp', '_r1', 60_000);
    await replay.once('bcl-jti', 'op', 'j1', 60_000);
    await s.putPending(oneTimeName('login', 'h1'), 'v', 60_000, { max: 10, owner: 'o', perOwner: 5 });
    const keys = (await inspector().keys(`${prefix}*`)).map((k) => k.slice(prefix.length)).sort();
    expect(keys).toEqual(['e:bcl:op:j1', 'e:saml-slo:corp:_r1', 'e:saml:corp:_a1', 'p:login:h1', 'pending', 'po:o']);
  });

  it('tells every store on the same Redis about revocations (pub/sub)', async () => {
    const prefix = uniquePrefix();
    const a = await makeStore(prefix);
    const b = await makeStore(prefix);
    const seenByB: string[] = [];
    b.onRevoked((keys) => seenByB.push(...(keys ?? [])));
    await a.set('k1', record('alice'), 60_000);
    await a.set('k2', record('alice'), 60_000);
    await a.revoke('k1', 60_000);
    await a.revokeIndex(userIndex('alice'), 60_000);
    await expect.poll(() => seenByB.sort(), { timeout: 1000 }).toEqual(['k1', 'k2']);
  });

  it('does not hear revocations of another key prefix', async () => {
    const a = await makeStore();
    const b = await makeStore();
    const seenByB: string[] = [];
    b.onRevoked((keys) => seenByB.push(...(keys ?? [])));
    await a.set('k1', record('alice'), 60_000);
    await a.revoke('k1', 60_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(seenByB).toEqual([]);
  });

  it('ping fails within command_timeout when Redis accepts TCP but does not answer (SIGSTOP), while isReady() stays true', async () => {
    const own = await startOwnRedis();
    const prefix = uniquePrefix();
    const c = { ...redisConfig(prefix, own.url), commandTimeoutMs: 300 };
    const store = createRedisStore({
      client: createRedisClient(c, 'commands'),
      subscriber: createRedisClient(c, 'subscriber'),
      keyPrefix: prefix,
    });
    onTestFinished(() => store.close());
    await expect.poll(() => store.isReady()).toBe(true);
    await expect(store.ping()).resolves.toBeUndefined();
    own.pause();
    onTestFinished(() => {
      own.resume();
    });
    await expect(store.ping()).rejects.toMatchObject({ code: 'GH_STORE_UNAVAILABLE' });
    // The connection is still up: only a round trip tells that Redis does not answer.
    expect(store.isReady()).toBe(true);
    own.resume();
    await expect
      .poll(
        async () =>
          store.ping().then(
            () => 'ok',
            () => 'failed',
          ),
        { timeout: 10_000 },
      )
      .toBe('ok');
  });

  it('fails fast with GH_STORE_UNAVAILABLE when Redis is unreachable', async () => {
    const c = redisConfig(uniquePrefix(), 'redis://127.0.0.1:1');
    const store = createRedisStore({
      client: createRedisClient(c, 'commands'),
      subscriber: createRedisClient(c, 'subscriber'),
      keyPrefix: 'x:',
    });
    onTestFinished(() => store.close());
    expect(store.isReady()).toBe(false);
    const started = Date.now();
    await expect(store.get('k')).rejects.toMatchObject({ code: 'GH_STORE_UNAVAILABLE', status: 503 });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
