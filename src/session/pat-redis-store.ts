// Personal access tokens in Redis, shared by every replica (the PatStore contract: pat-store.ts).
//   <prefix>pat:<id>         the record (JSON, the token's hash — never the token), PX = until expiry
//   <prefix>pat-used:<id>    when it was last used (epoch ms), PX = until expiry
//   <prefix>pat-user:<user>  set of the user's token ids (listing, revoke-all)
//   <prefix>pat-all          set of every token id (admin listing); stale ids are pruned on read
//   <prefix>pat-rate:<user>  creations in the current window (INCR, PX = the window)
// One key per command, so the same code works on Redis Cluster. Nothing is cached: a revoked
// token is refused by every replica at its next request.
import type { RedisClient } from './redis-client.ts';
import { px, runCommand as run } from './redis-command.ts';
import type { ListedPat, PatRecord, PatStore } from './pat-store.ts';

// Count a creation and start the window on the first one.
const COUNT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export interface RedisPatStoreOptions {
  readonly client: RedisClient;
  readonly keyPrefix: string;
  /** Close the client with the store (false when it is shared). */
  readonly ownsClient: boolean;
  readonly now?: () => number;
}

export function createRedisPatStore(options: RedisPatStoreOptions): PatStore {
  const { client, keyPrefix: p } = options;
  const now = options.now ?? Date.now;
  const recordKey = (id: string) => `${p}pat:${id}`;
  const usedKey = (id: string) => `${p}pat-used:${id}`;
  const userKey = (user: string) => `${p}pat-user:${user}`;
  const allKey = `${p}pat-all`;

  const parse = (text: string | null): PatRecord | undefined => {
    if (text === null) return undefined;
    try {
      const r = JSON.parse(text) as PatRecord;
      return r.expiresAt > now() ? r : undefined;
    } catch {
      return undefined;
    }
  };

  /** The live records of `ids`, pruning the ids that name none from `set`. */
  async function load(set: string, ids: readonly string[]): Promise<ListedPat[]> {
    if (ids.length === 0) return [];
    const [records, used] = await Promise.all([
      Promise.all(ids.map((id) => client.get(recordKey(id)))),
      Promise.all(ids.map((id) => client.get(usedKey(id)))),
    ]);
    const out: ListedPat[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const r = parse(records[i] ?? null);
      if (!r) gone.push(id);
      else out.push({ ...r, lastUsedAt: used[i] ? Number(used[i]) : undefined });
    });
    if (gone.length > 0) await client.srem(set, ...gone);
    return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async function remove(r: PatRecord): Promise<boolean> {
    const deleted = await client.del(recordKey(r.id));
    await Promise.all([client.del(usedKey(r.id)), client.srem(userKey(r.user), r.id), client.srem(allKey, r.id)]);
    return deleted > 0;
  }

  return {
    kind: 'redis',
    put(record) {
      return run('pat put', async () => {
        const ttl = px(record.expiresAt - now());
        await client.set(recordKey(record.id), JSON.stringify(record), 'PX', ttl);
        await Promise.all([client.sadd(userKey(record.user), record.id), client.sadd(allKey, record.id)]);
      });
    },
    get(id) {
      return run('pat get', async () => parse(await client.get(recordKey(id))));
    },
    listUser(user) {
      return run('pat list', async () => load(userKey(user), await client.smembers(userKey(user))));
    },
    listAll() {
      return run('pat list', async () => load(allKey, await client.smembers(allKey)));
    },
    revoke(id) {
      return run('pat revoke', async () => {
        const r = parse(await client.get(recordKey(id)));
        if (!r) {
          await client.srem(allKey, id);
          return undefined;
        }
        return (await remove(r)) ? r : undefined;
      });
    },
    revokeUser(user) {
      return run('pat revoke', async () => {
        const listed = await load(userKey(user), await client.smembers(userKey(user)));
        const out: PatRecord[] = [];
        for (const { lastUsedAt: _, ...r } of listed) if (await remove(r)) out.push(r);
        return out;
      });
    },
    markUsed(id, atMs) {
      return run('pat used', async () => {
        const ttl = await client.pttl(recordKey(id));
        if (ttl > 0) await client.set(usedKey(id), String(atMs), 'PX', ttl);
      });
    },
    countCreation(user, windowMs) {
      return run('pat rate', async () => Number(await client.eval(COUNT, 1, `${p}pat-rate:${user}`, String(px(windowMs)))));
    },
    async close() {
      if (options.ownsClient) client.disconnect();
    },
  };
}
