// Where the directory keeps its data: the session store's backend. A few key/value and set
// commands and one notification channel, over Redis (keys under session.redis.key_prefix + "d:",
// channel <prefix>directory) or one process's memory. Every command touches one key, so the same
// code works on Redis Cluster. directory.ts holds the meaning; this file only stores.
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

/** Two connections of its own (commands, subscriber) to the session store's Redis. */
export function createRedisKv(config: RedisConfig): DirectoryKv {
  const client = createRedisClient(config, 'commands');
  const subscriber = createRedisClient(config, 'subscriber');
  const prefix = `${config.keyPrefix}d:`;
  const channel = `${config.keyPrefix}directory`;
  const listeners: Array<(m: string | undefined) => void> = [];
  const emit = (m: string | undefined) => {
    for (const l of listeners) l(m);
  };
  subscriber.on('message', (ch: string, message: string) => {
    if (ch === channel) emit(message);
  });
  let subscribedOnce = false;
  subscriber.on('ready', () => {
    if (subscribedOnce) emit(undefined);
    subscribedOnce = true;
  });
  const subscribed = subscriber.subscribe(channel).then(
    () => undefined,
    () => {
      // Retried by ioredis' auto-resubscribe once connected.
    },
  );
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
      await subscribed;
      if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    },
    close: async () => {
      await Promise.all(
        [client, subscriber].map(async (c: RedisClient) => {
          if (c.status === 'ready') await Promise.race([c.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
          c.disconnect();
        }),
      );
    },
  };
}
