// Build ioredis clients (standalone, Sentinel or Cluster) from the compiled RedisConfig. Commands
// fail fast while disconnected (no offline queue) so a Redis outage turns into 503s at once instead
// of requests piling up; the client keeps reconnecting in the background.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/types.ts';

export type RedisClient = Redis | Cluster;

function baseOptions(c: RedisConfig): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: c.commandTimeoutMs,
    connectTimeout: Math.max(c.commandTimeoutMs, 2000),
    // Reconnect forever, backing off to 2 s between attempts.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password.value() } : {}),
    ...(c.db !== undefined ? { db: c.db } : {}),
    ...(c.tls ? { tls: {} } : {}),
  };
}

export function createRedisClient(c: RedisConfig, role: 'commands' | 'subscriber'): RedisClient {
  const client = build(c, role);
  // Connection errors surface as failed commands (503) and in the state log of create.ts; without
  // a listener ioredis would print every reconnect attempt.
  client.on('error', () => {});
  return client;
}

function build(c: RedisConfig, role: 'commands' | 'subscriber'): RedisClient {
  const options = baseOptions(c);
  // The subscriber must queue its SUBSCRIBE until connected, and re-subscribes on reconnect.
  if (role === 'subscriber') Object.assign(options, { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
  if (c.mode === 'cluster') {
    return new Cluster(
      c.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        redisOptions: options,
        enableOfflineQueue: options.enableOfflineQueue ?? false,
        clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
      },
    );
  }
  if (c.mode === 'sentinel') {
    return new Redis({
      ...options,
      sentinels: c.nodes.map((n) => ({ host: n.host, port: n.port })),
      name: c.name!,
      ...(c.sentinelPassword ? { sentinelPassword: c.sentinelPassword.value() } : {}),
      sentinelRetryStrategy: (times: number) => Math.min(times * 100, 2000),
    });
  }
  return new Redis({ ...fromUrl(c.url!.value()), ...options });
}

/**
 * Connection settings from a redis:// or rediss:// URL. Explicit config keys (username, password,
 * db, tls) are spread over these afterwards, so they win — ioredis' own URL handling would let the
 * URL win instead.
 */
function fromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db && /^\d+$/.test(db) ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
