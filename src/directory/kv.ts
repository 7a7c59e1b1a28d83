// Where the directory keeps its data: the session store's backend. A few key/value and set
// commands and one notification channel, over Redis (keys under session.redis.key_prefix + "d:",
// channel <prefix>directory) or one process's memory. Every command touches one key, so the same
// code works on Redis Cluster. directory.ts holds the meaning; this file only stores.
// The subscriber connection answers a PING every `heartbeatMs` (as the session store's does,
// session/redis-store.ts): while it is subscribed and has answered within 4 heartbeats,
// invalidationLive() holds and the directory's cache may keep a user's state for session.cache.ttl.
import { Cluster } from 'ioredis';
import type { RedisConfig } from '../config/types.ts';
import { createRedisClient, type RedisClient } from '../session/redis-client.ts';
import { runCommand as run } from '../session/redis-command.ts';

export interface DirectoryKv {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  sadd(key: string, member: string): Promise<void>;
  srem(key: string, member: string): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /** Tell every process sharing the backend (this one included). */
  publish(message: string): Promise<void>;
  /** `undefined`: notifications may have been missed (reconnect): forget everything cached. */
  onMessage(listener: (message: string | undefined) => void): void;
  /** Resolves once notifications are being received (tests, start-up). */
  listening(): Promise<void>;
  /** Subscribed and answering now: no change notification can have been missed. */
  invalidationLive(): boolean;
  /** Take `key` for at most `ttlMs` (SET NX PX); false when someone else holds it. */
  tryLock(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Give `key` back if `token` still holds it. */
  unlock(key: string, token: string): Promise<void>;
  close(): Promise<void>;
}

export function createMemoryKv(): DirectoryKv {
  const values = new Map<string, string>();
  const sets = new Map<string, Set<string>>();
  const listeners: Array<(m: string | undefined) => void> = [];
  const locks = new Map<string, { token: string; until: number }>();
  return {
    kind: 'memory',
    get: async (key) => values.get(key),
    set: async (key, value) => void values.set(key, value),
    del: async (key) => {
      values.delete(key);
      sets.delete(key);
    },
    sadd: async (key, member) => {
      let s = sets.get(key);
      if (!s) sets.set(key, (s = new Set()));
      s.add(member);
    },
    srem: async (key, member) => {
      const s = sets.get(key);
      s?.delete(member);
      if (s?.size === 0) sets.delete(key);
    },
    smembers: async (key) => [...(sets.get(key) ?? [])],
    publish: async (message) => {
      for (const l of listeners) l(message);
    },
    onMessage: (listener) => void listeners.push(listener),
    listening: async () => {},
    // One process: every write goes through it and drops its own cache entries.
    invalidationLive: () => true,
    tryLock: async (key, token, ttlMs) => {
      const now = Date.now();
      const held = locks.get(key);
      if (held && held.until > now) return false;
      locks.set(key, { token, until: now + ttlMs });
      return true;
    },
    unlock: async (key, token) => {
      if (locks.get(key)?.token === token) locks.delete(key);
    },
    close: async () => {},
  };
}

// Delete the lock only if this holder still has it (it may have expired and been taken since).
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisKvOptions {
  /** How often the subscriber connection is pinged; default 250 ms. */
  readonly heartbeatMs?: number;
  /** Where the subscriber connects, when not where commands go (tests: a channel that is down). */
  readonly subscriberConfig?: RedisConfig;
}

/** Two connections of its own (commands, subscriber) to the session store's Redis. */
export function createRedisKv(config: RedisConfig, options: RedisKvOptions = {}): DirectoryKv {
  const client = createRedisClient(config, 'commands');
  const subscriber = createRedisClient(options.subscriberConfig ?? config, 'subscriber');
  const prefix = `${config.keyPrefix}d:`;
  const channel = `${config.keyPrefix}directory`;
  const heartbeatMs = options.heartbeatMs ?? 250;
  const listeners: Array<(m: string | undefined) => void> = [];
  const emit = (m: string | undefined) => {
    for (const l of listeners) l(m);
  };
  /** Subscription confirmed on the current connection; when it last answered (performance.now()). */
  let subscribed = false;
  let lastAnswerAt = Number.NEGATIVE_INFINITY;
  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    lastAnswerAt = performance.now();
    emit(message);
  });
  let confirmed: () => void = () => {};
  const subscribedOnce = new Promise<void>((r) => (confirmed = r));
  const confirmSubscription = () => {
    subscriber.subscribe(channel).then(
      () => {
        if (subscriber.status !== 'ready') return;
        subscribed = true;
        lastAnswerAt = performance.now();
        confirmed();
      },
      () => {
        // Not connected: tried again on the next 'ready' (ioredis also resubscribes by itself).
      },
    );
  };
  // After a reconnect, changes published meanwhile were missed: the cache starts over, and keeps
  // to its short TTL until the subscription is confirmed again.
  let readyOnce = false;
  subscriber.on('close', () => {
    subscribed = false;
  });
  subscriber.on('ready', () => {
    subscribed = false;
    if (readyOnce) emit(undefined);
    readyOnce = true;
    confirmSubscription();
  });
  confirmSubscription();
  // One PING in flight at most: a paused or cut connection stops answering and the channel goes stale.
  let pinging = false;
  let beatConnection: { ping(): Promise<unknown> } | undefined;
  const heartbeat = setInterval(() => {
    const conn = subscriberConnection(subscriber);
    if (conn !== beatConnection) {
      // A Cluster moved its subscriber to another node: notifications may have been missed.
      const moved = beatConnection !== undefined;
      beatConnection = conn;
      if (moved) {
        subscribed = false;
        emit(undefined);
        if (conn) confirmSubscription();
      }
    }
    if (pinging || !subscribed || !conn) return;
    pinging = true;
    conn.ping().then(
      () => {
        pinging = false;
        lastAnswerAt = performance.now();
      },
      () => {
        pinging = false;
      },
    );
  }, heartbeatMs);
  heartbeat.unref();
  const k = (key: string) => prefix + key;
  return {
    kind: 'redis',
    get: (key) => run('directory get', async () => (await client.get(k(key))) ?? undefined),
    set: (key, value) => run('directory set', async () => void (await client.set(k(key), value))),
    del: (key) => run('directory del', async () => void (await client.del(k(key)))),
    sadd: (key, member) => run('directory sadd', async () => void (await client.sadd(k(key), member))),
    srem: (key, member) => run('directory srem', async () => void (await client.srem(k(key), member))),
    smembers: (key) => run('directory smembers', () => client.smembers(k(key))),
    publish: (message) => run('directory publish', async () => void (await client.publish(channel, message))),
    onMessage: (listener) => void listeners.push(listener),
    tryLock: (key, token, ttlMs) =>
      run('directory lock', async () => (await client.set(k(`lock:${key}`), token, 'PX', Math.max(1, ttlMs), 'NX')) === 'OK'),
    unlock: (key, token) => run('directory unlock', async () => void (await client.eval(UNLOCK, 1, k(`lock:${key}`), token))),
    listening: async () => {
      await subscribedOnce;
      if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    },
    invalidationLive: () => subscribed && performance.now() - lastAnswerAt < 4 * heartbeatMs,
    close: async () => {
      clearInterval(heartbeat);
      subscribed = false;
      await Promise.all(
        [client, subscriber].map(async (c: RedisClient) => {
          if (c.status === 'ready') await Promise.race([c.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
          c.disconnect();
        }),
      );
    },
  };
}

/**
 * The connection that carries the subscription: the subscriber itself, or for a Cluster the node
 * connection ioredis picked for it (internal API, as in session/redis-store.ts; without it the
 * channel never counts as live, which only costs the long TTL).
 */
function subscriberConnection(subscriber: RedisClient): { ping(): Promise<unknown> } | undefined {
  if (!(subscriber instanceof Cluster)) return subscriber;
  const inner = (subscriber as unknown as { subscriber?: { getInstance?: () => { ping(): Promise<unknown> } | null } }).subscriber;
  return inner?.getInstance?.() ?? undefined;
}
