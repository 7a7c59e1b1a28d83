// From session config to running sessions (the composition root's entry to this folder):
// storeFromConfig opens the backend (memory, or Redis standalone / Sentinel / Cluster with a second
// connection for revocation notifications), sessionsFromConfig wraps it in a manager (manager.ts),
// waitForStore lets start-up wait until the backend answers.
import { randomBytes } from 'node:crypto';
import type { SessionConfig } from '../config/types.ts';
import { Secret } from '../config/secret.ts';
import type { Logger } from '../log.ts';
import { createSessionManager, type SessionManager } from './manager.ts';
import { createMemoryStore } from './memory-store.ts';
import { createRedisClient, type RedisClient } from './redis-client.ts';
import { createRedisStore } from './redis-store.ts';
import type { OneTimeStore } from './one-time.ts';
import type { SessionStore } from './store.ts';

export function storeFromConfig(config: SessionConfig, log: Logger): SessionStore & OneTimeStore {
  if (config.store === 'memory') return createMemoryStore({ maxSessions: config.maxSessions });
  const redis = config.redis!;
  const client = createRedisClient(redis, 'commands');
  const subscriber = createRedisClient(redis, 'subscriber');
  watchConnection(client, 'commands', log);
  watchConnection(subscriber, 'subscriber', log);
  return createRedisStore({ client, subscriber, keyPrefix: redis.keyPrefix });
}

/** Log connection state changes once each (not every retry), never the URL (it may hold a password). */
function watchConnection(client: RedisClient, role: string, log: Logger): void {
  let down = false;
  client.on('ready', () => {
    if (down) log.info({ redis: role }, 'redis connection restored');
    down = false;
  });
  client.on('error', (err: Error) => {
    if (!down) log.warn({ redis: role, err: err.message }, 'redis connection failed; retrying in the background');
    down = true;
  });
  client.on('end', () => {
    down = true;
  });
}

export function sessionsFromConfig(config: SessionConfig, log: Logger, store = storeFromConfig(config, log)): SessionManager {
  return createSessionManager({
    config,
    store,
    // Without session.secret (memory store only) sessions cannot outlive the process anyway.
    secret: config.secret ?? new Secret(randomBytes(48).toString('base64url')),
    onBackgroundError: (err) => log.warn({ err: (err as Error).message }, 'session renewal failed'),
  });
}

/** Wait up to `ms` for the store to answer, so the first requests after start do not 503. */
export async function waitForStore(store: SessionStore, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (store.isReady()) {
      try {
        await store.ping();
        return true;
      } catch {
        // not yet
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
