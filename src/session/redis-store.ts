// Redis session store, shared by every replica.
//   <prefix>s:<key>   session record (JSON), PX = time left before idle/absolute expiry
//   <prefix>i:<index> set of session keys per index name (user, IdP subject, IdP session), for
//                     listing and revoke-all
//   <prefix>r:<key>   tombstone of a revoked session (tells "revoked" from "expired")
//   <prefix>e:<name>  short-lived values (read once with GETDEL), replay markers (names: one-time.ts)
//   <prefix>p:<name>  pending sign-ins: "<owner>\n<value>" (read once with GETDEL)
//   <prefix>pending   sorted set of live pending sign-ins by expiry: the global bound, shared by
//                     every replica (admission is one atomic script on this one key)
//   <prefix>po:<owner> sorted set of one browser's pending sign-ins by expiry: the per-owner bound
//   <prefix>revoked   pub/sub channel: JSON array of revoked keys, so every replica drops its
//                     cached copy and closes the session's live connections at once
// Commands touch one key each, so the same code works on Redis Cluster.
import { Cluster } from 'ioredis';
import { GatehouseError } from '../errors.ts';
import type { OneTimeStore } from './one-time.ts';
import type { RedisClient } from './redis-client.ts';
import { indexNames, type SessionRecord, type SessionStore } from './store.ts';

// Add a key to the user index and make the index live at least until ARGV[2] (ms from now).
const INDEX_ADD = `redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

// Admit a pending value: drop expired members, refuse when ARGV[4] are live (answer: ms until the
// oldest expires), else add it with its expiry. The set lives as long as its newest member.
const PENDING_ADMIT = `local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil(tonumber(first[2]) - now))
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 0`;

// Note a pending value under its owner; answer the owner's oldest beyond ARGV[4] (removed here).
const PENDING_OWNER = `local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra <= 0 then return {} end
local old = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
return old`;

// A pending value was taken: forget it under its owner and count the owner's live ones left.
const PENDING_OWNER_TAKE = `redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
return redis.call('ZCARD', KEYS[1])`;

export interface RedisStoreOptions {
  readonly client: RedisClient;
  readonly subscriber: RedisClient;
  readonly keyPrefix: string;
  readonly now?: () => number;
}

export function createRedisStore(options: RedisStoreOptions): SessionStore & OneTimeStore {
  const { client, subscriber, keyPrefix: p } = options;
  const now = options.now ?? Date.now;
  const channel = `${p}revoked`;
  const listeners: Array<(keys: readonly string[] | undefined) => void> = [];
  const sk = (key: string) => `${p}s:${key}`;
  const ik = (name: string) => `${p}i:${name}`;
  const ek = (name: string) => `${p}e:${name}`;
  const rk = (key: string) => `${p}r:${key}`;
  const pk = (name: string) => `${p}p:${name}`;
  const pendingSet = `${p}pending`;
  const ownerSet = (owner: string) => `${p}po:${owner}`;
  const pingTimeoutMs = commandTimeoutOf(client);
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
    put: (name, value, ttlMs) => run('put', async () => {
      await client.set(ek(name), value, 'PX', Math.max(1, Math.ceil(ttlMs)));
    }),
    take: (name) => run('take', async () => (await client.getdel(ek(name))) ?? undefined),
    // Three keys, one command each (Redis Cluster): a crash between them leaves at most a counted
    // place without a value, which expires with its TTL like the value would have.
    putPending: (name, value, ttlMs, bounds) => run('putPending', async () => {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      const t = now();
      const wait = Number(await client.eval(PENDING_ADMIT, 1, pendingSet, String(t), name, String(ttl), String(bounds.max)));
      if (wait > 0) return { ok: false as const, retryAfterMs: wait };
      await client.set(pk(name), `${bounds.owner}\n${value}`, 'PX', ttl);
      const dropped = (await client.eval(PENDING_OWNER, 1, ownerSet(bounds.owner), String(t), name, String(ttl), String(bounds.perOwner))) as string[];
      if (dropped.length > 0) {
        await Promise.all([...dropped.map((n) => client.del(pk(n))), client.zrem(pendingSet, ...dropped)]);
      }
      return { ok: true as const };
    }),
    takePending: (name) => run('takePending', async () => {
      const stored = await client.getdel(pk(name));
      if (stored === null) return undefined;
      const nl = stored.indexOf('\n');
      const owner = stored.slice(0, nl);
      const [, left] = await Promise.all([
        client.zrem(pendingSet, name),
        client.eval(PENDING_OWNER_TAKE, 1, ownerSet(owner), String(now()), name),
      ]);
      return { value: stored.slice(nl + 1), ownerPending: Number(left) };
    }),
    once: (name, ttlMs) => run('once', async () => (await client.set(ek(name), '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK'),
    onRevoked(listener) {
      listeners.push(listener);
    },
    // A real round trip, bounded by command_timeout: a paused Redis keeps its TCP connection (and
    // ioredis' "ready" status) while answering nothing. ioredis enforces commandTimeout itself; the
    // timer here also bounds a Cluster or Sentinel client that is still looking for its node.
    ping: () => run('ping', async () => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer to PING within ${pingTimeoutMs} ms`)), pingTimeoutMs);
      });
      try {
        await Promise.race([client.ping(), bound]);
      } finally {
        clearTimeout(timer);
      }
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

/** The client's command timeout (session.redis.command_timeout), as redis-client.ts set it. */
function commandTimeoutOf(client: RedisClient): number {
  const options = client instanceof Cluster ? client.options.redisOptions : client.options;
  const ms = options?.commandTimeout;
  return typeof ms === 'number' && ms > 0 ? ms : 2000;
}
