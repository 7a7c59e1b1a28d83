// The PatStore contract against both backends, and what the Redis one writes: hashes and
// metadata, never a token.
import { describe, expect, it, onTestFinished } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisPatStore } from '../../src/session/pat-redis-store.ts';
import { createMemoryPatStore } from '../../src/session/pat-store.ts';
import { inspector, redisUrl, uniquePrefix } from '../support/redis.ts';
import { patRecord, runPatStoreContract } from './pat-store.contract.ts';

runPatStoreContract('memory', { make: async (now) => createMemoryPatStore(now) });

function redisStore(prefix = uniquePrefix(), now?: () => number) {
  const client = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  const store = createRedisPatStore({ client, keyPrefix: prefix, ownsClient: true, ...(now ? { now } : {}) });
  onTestFinished(() => store.close());
  return store;
}

runPatStoreContract('redis', { make: async (now) => redisStore(uniquePrefix(), now) });

describe('Redis PatStore keys', () => {
  it('records live until their expiry, under the documented key names', async () => {
    const prefix = uniquePrefix();
    const s = redisStore(prefix);
    const r = patRecord({ expiresAt: Date.now() + 120_000 });
    await s.put(r);
    await s.markUsed(r.id, Date.now());
    const redis = inspector();
    expect((await redis.keys(`${prefix}*`)).sort()).toEqual(
      [`${prefix}pat:${r.id}`, `${prefix}pat-all`, `${prefix}pat-used:${r.id}`, `${prefix}pat-user:${r.user}`].sort(),
    );
    const ttl = await redis.pttl(`${prefix}pat:${r.id}`);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });
});
