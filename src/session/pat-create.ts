// The personal-access-token store for a session config: in memory beside a memory session store,
// in the same Redis (its own connection, the same key prefix) beside a Redis one.
import type { SessionConfig } from '../config/types.ts';
import { createRedisClient } from './redis-client.ts';
import { createRedisPatStore } from './pat-redis-store.ts';
import { createMemoryPatStore, type PatStore } from './pat-store.ts';

export function patStoreFromConfig(config: SessionConfig): PatStore {
  if (config.store === 'memory') return createMemoryPatStore();
  const redis = config.redis!;
  return createRedisPatStore({ client: createRedisClient(redis, 'commands'), keyPrefix: redis.keyPrefix, ownsClient: true });
}
