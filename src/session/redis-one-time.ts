// One-time values in Redis (the Redis backend's half of one-time.ts), under the keys listed in
// redis-store.ts: <prefix>e:<name> values and replay markers, <prefix>p:<name> pending sign-ins
// with their global (<prefix>pending) and per-owner (<prefix>po:<owner>) bounds.
import type { ClosableOneTimeStore } from './joined-store.ts';
import type { PendingBounds, PendingResult, TakenPending } from './one-time.ts';
import type { RedisClient } from './redis-client.ts';
import { px, runCommand as run } from './redis-command.ts';

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

export class RedisOneTimeStore implements ClosableOneTimeStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #pendingSet: string;

  constructor(client: RedisClient, keyPrefix: string, now: () => number) {
    this.#client = client;
    this.#prefix = keyPrefix;
    this.#now = now;
    this.#pendingSet = `${keyPrefix}pending`;
  }

  put(name: string, value: string, ttlMs: number): Promise<void> {
    return run('put', async () => {
      await this.#client.set(this.#valueKey(name), value, 'PX', px(ttlMs));
    });
  }

  take(name: string): Promise<string | undefined> {
    return run('take', async () => (await this.#client.getdel(this.#valueKey(name))) ?? undefined);
  }

  peek(name: string): Promise<string | undefined> {
    return run('peek', async () => (await this.#client.get(this.#valueKey(name))) ?? undefined);
  }

  once(name: string, ttlMs: number): Promise<boolean> {
    return run('once', async () => (await this.#client.set(this.#valueKey(name), '1', 'PX', px(ttlMs), 'NX')) === 'OK');
  }

  // Three keys, one command each (Redis Cluster): a crash between them leaves at most a counted
  // place without a value, which expires with its TTL like the value would have.
  putPending(name: string, value: string, ttlMs: number, bounds: PendingBounds): Promise<PendingResult> {
    return run('putPending', async () => {
      const client = this.#client;
      const ttl = px(ttlMs);
      const t = this.#now();
      const wait = Number(await client.eval(PENDING_ADMIT, 1, this.#pendingSet, String(t), name, String(ttl), String(bounds.max)));
      if (wait > 0) return { ok: false as const, retryAfterMs: wait };
      await client.set(this.#pendingKey(name), `${bounds.owner}\n${value}`, 'PX', ttl);
      const dropped = (await client.eval(
        PENDING_OWNER,
        1,
        this.#ownerSet(bounds.owner),
        String(t),
        name,
        String(ttl),
        String(bounds.perOwner),
      )) as string[];
      if (dropped.length > 0) {
        await Promise.all([...dropped.map((n) => client.del(this.#pendingKey(n))), client.zrem(this.#pendingSet, ...dropped)]);
      }
      return { ok: true as const };
    });
  }

  takePending(name: string): Promise<TakenPending | undefined> {
    return run('takePending', async () => {
      const stored = await this.#client.getdel(this.#pendingKey(name));
      if (stored === null) return undefined;
      const nl = stored.indexOf('\n');
      const owner = stored.slice(0, nl);
      const [, left] = await Promise.all([
        this.#client.zrem(this.#pendingSet, name),
        this.#client.eval(PENDING_OWNER_TAKE, 1, this.#ownerSet(owner), String(this.#now()), name),
      ]);
      return { value: stored.slice(nl + 1), ownerPending: Number(left) };
    });
  }

  /** The connection is the sessions half's, closed there. */
  async close(): Promise<void> {}

  #valueKey(name: string): string {
    return `${this.#prefix}e:${name}`;
  }

  #pendingKey(name: string): string {
    return `${this.#prefix}p:${name}`;
  }

  #ownerSet(owner: string): string {
    return `${this.#prefix}po:${owner}`;
  }
}
