// Redis session store, shared by every replica.
//   <prefix>s:<key>   session record (JSON), PX = time left before idle/absolute expiry
//   <prefix>i:<index> set of session keys per index name (user, IdP subject, IdP session), for
//                     listing and revoke-all
//   <prefix>r:<key>   tombstone of a revoked session (tells "revoked" from "expired")
//   <prefix>e:<name>  short-lived values: pending sign-ins (read once with GETDEL), replay markers
//   <prefix>revoked   pub/sub channel: JSON array of revoked keys, so every replica drops its
//                     cached copy and closes the session's live connections at once
// Commands touch one key each, so the same code works on Redis Cluster.
import { GatehouseError } from '../errors.ts';
import type { RedisClient } from './redis-client.ts';
import { indexNames, type SessionRecord, type SessionStore } from './store.ts';

// Add a key to the user index and make the index live at least until ARGV[2] (ms from now).
const INDEX_ADD = `redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

export interface RedisStoreOptions {
  readonly client: RedisClient;
  readonly subscriber: RedisClient;
  readonly keyPrefix: string;
  readonly now?: () => number;
}

export function createRedisStore(options: RedisStoreOptions): SessionStore {
  const { client, subscriber, keyPrefix: p } = options;
  const now = options.now ?? Date.now;
  const channel = `${p}revoked`;
  const listeners: Array<(keys: readonly string[] | undefined) => void> = [];
  const sk = (key: string) => `${p}s:${key}`;
  const ik = (name: string) => `${p}i:${name}`;
  const ek = (name: string) => `${p}e:${name}`;
  const rk = (key: string) => `${p}r:${key}`;
  const emit = (keys: readonly string[] | undefined) => {
    for (const l of listeners) l(keys);
  };

  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    try {
      const keys: unknown = JSON.parse(message);
      if (Array.isArray(keys)) emit(keys.filter((k): k is string => typeof k === 'string'));
    } catch {
      // Not ours: ignore.
    }
  });
  // After a reconnect, revocations published meanwhile were missed: caches must start over.
  let subscribedOnce = false;
  subscriber.on('ready', () => {
    if (subscribedOnce) emit(undefined);
    subscribedOnce = true;
  });
  void subscriber.subscribe(channel).catch(() => {
    // Retried by ioredis' auto-resubscribe once connected.
  });

  const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw new GatehouseError('GH_STORE_UNAVAILABLE', `session store (redis) ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const parse = (json: string | null): SessionRecord | undefined => {
    if (json === null) return undefined;
    try {
      return JSON.parse(json) as SessionRecord;
    } catch {
      return undefined;
    }
  };
  const unindex = async (key: string, record: SessionRecord) => {
    await Promise.all(indexNames(record).map((name) => client.srem(ik(name), key)));
  };
  const publish = async (keys: string[]) => {
    if (keys.length > 0) await client.publish(channel, JSON.stringify(keys));
  };

  return {
    kind: 'redis',
    shared: true,
    get: (key) => run('get', async () => parse(await client.get(sk(key)))),
    set: (key, record, ttlMs) => run('set', async () => {
      await client.set(sk(key), JSON.stringify(record), 'PX', Math.max(1, Math.ceil(ttlMs)));
      const indexTtl = String(Math.max(1, record.absoluteExpiresAt - now()));
      await Promise.all(indexNames(record).map((name) => client.eval(INDEX_ADD, 1, ik(name), key, indexTtl)));
    }),
    touch: (key, record, ttlMs) => run('touch', async () =>
      // XX: never resurrect a session that was revoked or expired meanwhile.
      (await client.set(sk(key), JSON.stringify(record), 'PX', Math.max(1, Math.ceil(ttlMs)), 'XX')) === 'OK'),
    revoke: (key, tombstoneMs) => run('revoke', async () => {
      const record = parse(await client.get(sk(key)));
      await client.set(rk(key), '1', 'PX', Math.max(1, tombstoneMs));
      const deleted = await client.del(sk(key));
      if (record) await unindex(key, record);
      await publish([key]);
      return deleted > 0;
    }),
    delete: (key) => run('delete', async () => {
      const record = parse(await client.get(sk(key)));
      await client.del(sk(key));
      if (record) await unindex(key, record);
    }),
    wasRevoked: (key) => run('wasRevoked', async () => (await client.exists(rk(key))) === 1),
    listIndex: (name) => run('list', async () => {
      const keys = await client.smembers(ik(name));
      const records = await Promise.all(keys.map((k) => client.get(sk(k))));
      const out: Array<[string, SessionRecord]> = [];
      const gone: string[] = [];
      keys.forEach((k, i) => {
        const r = parse(records[i] ?? null);
        if (r) out.push([k, r]);
        else gone.push(k);
      });
      if (gone.length > 0) await client.srem(ik(name), ...gone);
      return out;
    }),
    revokeIndex: (name, tombstoneMs) => run('revokeIndex', async () => {
      const keys = await client.smembers(ik(name));
      const records = await Promise.all(keys.map((k) => client.get(sk(k))));
      const live = keys.filter((_, i) => records[i] !== null);
      await Promise.all(live.flatMap((k) => [client.set(rk(k), '1', 'PX', Math.max(1, tombstoneMs)), client.del(sk(k))]));
      // Remove only what was revoked: a session created meanwhile stays listed (and revocable).
      // Other indexes of these sessions are pruned lazily by listIndex.
      if (keys.length > 0) await client.srem(ik(name), ...keys);
      await publish(live);
      return live;
    }),
    putEphemeral: (name, value, ttlMs) => run('putEphemeral', async () => {
      await client.set(ek(name), value, 'PX', Math.max(1, Math.ceil(ttlMs)));
    }),
    takeEphemeral: (name) => run('takeEphemeral', async () => (await client.getdel(ek(name))) ?? undefined),
    putOnce: (name, ttlMs) => run('putOnce', async () => (await client.set(ek(name), '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK'),
    onRevoked(listener) {
      listeners.push(listener);
    },
    ping: () => run('ping', async () => {
      await client.ping();
    }),
    isReady: () => client.status === 'ready',
    async close() {
      await Promise.all([client, subscriber].map(async (c) => {
        // QUIT only on a live connection (it would wait for a reconnect otherwise), and bounded.
        if (c.status === 'ready') await Promise.race([c.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
        c.disconnect();
      }));
    },
  };
}
