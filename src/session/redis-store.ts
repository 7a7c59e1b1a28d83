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
//   <prefix>changed   pub/sub channel: JSON array of keys whose record a refresh replaced, so every
//                     replica drops its cached copy (and reads the new groups) at once
// The subscriber connection answers a PING every `heartbeatMs`: while it is subscribed and has
// answered within 4 heartbeats, invalidationLive() holds and the manager's near cache may keep
// records for longer than its short TTL (cache.ts).
// The sweeper (manager.ts sweepEnded) walks the s: keys with SCAN, on every master of a Cluster.
// Commands touch one key each, so the same code works on Redis Cluster. The e:, p:, pending and po:
// keys belong to the one-time half, redis-one-time.ts.
import { Cluster } from 'ioredis';
import { joinStores } from './joined-store.ts';
import type { OneTimeStore } from './one-time.ts';
import type { RedisClient } from './redis-client.ts';
import { px, runCommand as run } from './redis-command.ts';
import { RedisOneTimeStore } from './redis-one-time.ts';
import { indexNames, type SessionRecord, type SessionStore } from './store.ts';

// Add a key to the user index and make the index live at least until ARGV[2] (ms from now).
const INDEX_ADD = `redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

// Delete a record only while it holds the value read (ARGV[1]): a renewal or a second sweeper meanwhile wins.
const DELETE_IF_SAME = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisStoreOptions {
  readonly client: RedisClient;
  readonly subscriber: RedisClient;
  readonly keyPrefix: string;
  readonly now?: () => number;
  /** How often the subscriber connection is pinged; default 250 ms (4 PINGs a second per process). */
  readonly heartbeatMs?: number;
}

export function createRedisStore(options: RedisStoreOptions): SessionStore & OneTimeStore {
  const now = options.now ?? Date.now;
  const sessions = new RedisSessionStore(options.client, options.subscriber, options.keyPrefix, now, options.heartbeatMs ?? 250);
  return joinStores(sessions, new RedisOneTimeStore(options.client, options.keyPrefix, now));
}

type RevokedListener = (keys: readonly string[] | undefined) => void;
type ChangedListener = (keys: readonly string[]) => void;

class RedisSessionStore implements SessionStore {
  readonly kind = 'redis';
  readonly shared = true;
  readonly #client: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #channel: string;
  readonly #pingTimeoutMs: number;
  readonly #listeners: RevokedListener[] = [];
  readonly #changedChannel: string;
  readonly #changedListeners: ChangedListener[] = [];
  readonly #heartbeatMs: number;
  readonly #heartbeat: NodeJS.Timeout;
  /** Both channels confirmed subscribed on the current connection. */
  #subscribed = false;
  /** When the subscriber connection last answered (performance.now()). */
  #lastAnswerAt = Number.NEGATIVE_INFINITY;
  #pinging = false;
  /** The JSON each record returned by scan() was read as (deleteIfUnchanged compares it). */
  readonly #scanned = new WeakMap<SessionRecord, string>();
  /** The connection last pinged (a Cluster may move its subscriber to another node). */
  #beatConnection: { ping(): Promise<unknown> } | undefined;

  constructor(client: RedisClient, subscriber: RedisClient, keyPrefix: string, now: () => number, heartbeatMs: number) {
    this.#client = client;
    this.#subscriber = subscriber;
    this.#prefix = keyPrefix;
    this.#now = now;
    this.#channel = `${keyPrefix}revoked`;
    this.#changedChannel = `${keyPrefix}changed`;
    this.#pingTimeoutMs = commandTimeoutOf(client);
    this.#heartbeatMs = heartbeatMs;
    this.#subscribe();
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatMs);
    this.#heartbeat.unref();
  }

  get(key: string): Promise<SessionRecord | undefined> {
    return run('get', async () => parse(await this.#client.get(this.#sessionKey(key))));
  }

  set(key: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return run('set', async () => {
      await this.#client.set(this.#sessionKey(key), JSON.stringify(record), 'PX', px(ttlMs));
      const indexTtl = String(Math.max(1, record.absoluteExpiresAt - this.#now()));
      await Promise.all(indexNames(record).map((name) => this.#client.eval(INDEX_ADD, 1, this.#indexKey(name), key, indexTtl)));
    });
  }

  touch(key: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    return run(
      'touch',
      async () =>
        // XX: never resurrect a session that was revoked or expired meanwhile.
        (await this.#client.set(this.#sessionKey(key), JSON.stringify(record), 'PX', px(ttlMs), 'XX')) === 'OK',
    );
  }

  revoke(key: string, tombstoneMs: number): Promise<boolean> {
    return run('revoke', async () => {
      const record = parse(await this.#client.get(this.#sessionKey(key)));
      await this.#client.set(this.#tombstoneKey(key), '1', 'PX', Math.max(1, tombstoneMs));
      const deleted = await this.#client.del(this.#sessionKey(key));
      if (record) await this.#unindex(key, record);
      await this.#publish([key]);
      return deleted > 0;
    });
  }

  delete(key: string): Promise<void> {
    return run('delete', async () => {
      const record = parse(await this.#client.get(this.#sessionKey(key)));
      await this.#client.del(this.#sessionKey(key));
      if (record) await this.#unindex(key, record);
    });
  }

  // SCAN MATCH <prefix>s:* on each node (every master of a Cluster, one after the other): the
  // cursor is "<node>:<SCAN cursor>".
  scan(cursor: string, count: number): Promise<{ cursor: string; entries: Array<[string, SessionRecord]> }> {
    return run('scan', async () => {
      const nodes: Array<{ scan: RedisClient['scan'] }> = this.#client instanceof Cluster ? this.#client.nodes('master') : [this.#client];
      const [n, c] = cursor.split(':');
      let node = Number.parseInt(n ?? '0', 10) || 0;
      if (node >= nodes.length) node = 0;
      const pattern = `${globEscape(this.#prefix)}s:*`;
      const [nextCursor, found] = await nodes[node]!.scan(c ?? '0', 'MATCH', pattern, 'COUNT', Math.max(1, count));
      const keys = found.map((k) => k.slice(this.#prefix.length + 2));
      // One MGET per step, not a GET per key: a sweep of 10,000 sessions is 20 commands, not
      // 10,000 in the minute they are walked (bench:compare's Redis commands per request at 10,000
      // sessions read 0.07-0.15 whenever a sweep fell in the measured run). A Cluster node's keys
      // span many slots, which one MGET may not: there, a GET each.
      const values =
        this.#client instanceof Cluster || found.length === 0
          ? await Promise.all(found.map((k) => this.#client.get(k)))
          : await this.#client.mget(found);
      const entries: Array<[string, SessionRecord]> = [];
      keys.forEach((k, i) => {
        const json = values[i] ?? null;
        const r = parse(json);
        if (!r || json === null) return;
        this.#scanned.set(r, json);
        entries.push([k, r]);
      });
      if (nextCursor !== '0') return { cursor: `${node}:${nextCursor}`, entries };
      return { cursor: node + 1 < nodes.length ? `${node + 1}:0` : '0', entries };
    });
  }

  deleteIfUnchanged(key: string, record: SessionRecord): Promise<boolean> {
    return run('delete', async () => {
      const json = this.#scanned.get(record) ?? JSON.stringify(record);
      const deleted = Number(await this.#client.eval(DELETE_IF_SAME, 1, this.#sessionKey(key), json)) === 1;
      if (deleted) await this.#unindex(key, record);
      return deleted;
    });
  }

  wasRevoked(key: string): Promise<boolean> {
    return run('wasRevoked', async () => (await this.#client.exists(this.#tombstoneKey(key))) === 1);
  }

  listIndex(name: string): Promise<Array<[string, SessionRecord]>> {
    return run('list', async () => {
      const keys = await this.#client.smembers(this.#indexKey(name));
      const records = await Promise.all(keys.map((k) => this.#client.get(this.#sessionKey(k))));
      const out: Array<[string, SessionRecord]> = [];
      const gone: string[] = [];
      keys.forEach((k, i) => {
        const r = parse(records[i] ?? null);
        if (r) out.push([k, r]);
        else gone.push(k);
      });
      if (gone.length > 0) await this.#client.srem(this.#indexKey(name), ...gone);
      return out;
    });
  }

  revokeIndex(name: string, tombstoneMs: number): Promise<string[]> {
    return run('revokeIndex', async () => {
      const client = this.#client;
      const keys = await client.smembers(this.#indexKey(name));
      const records = await Promise.all(keys.map((k) => client.get(this.#sessionKey(k))));
      const live = keys.filter((_, i) => records[i] !== null);
      await Promise.all(
        live.flatMap((k) => [client.set(this.#tombstoneKey(k), '1', 'PX', Math.max(1, tombstoneMs)), client.del(this.#sessionKey(k))]),
      );
      // Remove only what was revoked: a session created meanwhile stays listed (and revocable).
      // Other indexes of these sessions are pruned lazily by listIndex.
      if (keys.length > 0) await client.srem(this.#indexKey(name), ...keys);
      await this.#publish(live);
      return live;
    });
  }

  onRevoked(listener: RevokedListener): void {
    this.#listeners.push(listener);
  }

  announceChanged(keys: readonly string[]): Promise<void> {
    return run('announce', async () => {
      if (keys.length > 0) await this.#client.publish(this.#changedChannel, JSON.stringify(keys));
    });
  }

  onChanged(listener: ChangedListener): void {
    this.#changedListeners.push(listener);
  }

  invalidationLive(): boolean {
    return this.#subscribed && performance.now() - this.#lastAnswerAt < 4 * this.#heartbeatMs;
  }

  // A real round trip, bounded by command_timeout: a paused Redis keeps its TCP connection (and
  // ioredis' "ready" status) while answering nothing. ioredis enforces commandTimeout itself; the
  // timer here also bounds a Cluster or Sentinel client that is still looking for its node.
  ping(): Promise<void> {
    return run('ping', async () => {
      const ms = this.#pingTimeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer to PING within ${ms} ms`)), ms);
      });
      try {
        await Promise.race([this.#client.ping(), bound]);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  isReady(): boolean {
    return this.#client.status === 'ready';
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#subscribed = false;
    await Promise.all(
      [this.#client, this.#subscriber].map(async (c) => {
        // QUIT only on a live connection (it would wait for a reconnect otherwise), and bounded.
        if (c.status === 'ready') await Promise.race([c.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
        c.disconnect();
      }),
    );
  }

  /** Revocations and changes published by any replica reach this one's listeners. */
  #subscribe(): void {
    this.#subscriber.on('message', (ch: string, message: string) => {
      if (ch !== this.#channel && ch !== this.#changedChannel) return;
      let keys: string[];
      try {
        const parsed: unknown = JSON.parse(message);
        if (!Array.isArray(parsed)) return;
        keys = parsed.filter((k): k is string => typeof k === 'string');
      } catch {
        return; // Not ours: ignore.
      }
      this.#lastAnswerAt = performance.now();
      if (ch === this.#channel) this.#emit(keys);
      else for (const l of this.#changedListeners) l(keys);
    });
    // After a reconnect, revocations published meanwhile were missed: caches must start over, and
    // keep to their short TTL until the subscription is confirmed again.
    let subscribedOnce = false;
    this.#subscriber.on('close', () => {
      this.#subscribed = false;
    });
    this.#subscriber.on('ready', () => {
      this.#subscribed = false;
      if (subscribedOnce) this.#emit(undefined);
      subscribedOnce = true;
      this.#confirmSubscription();
    });
    this.#confirmSubscription();
  }

  /** (Re)subscribe; once Redis confirms, notifications are heard (ioredis also resubscribes by itself). */
  #confirmSubscription(): void {
    this.#subscriber.subscribe(this.#channel, this.#changedChannel).then(
      () => {
        if (this.#subscriber.status !== 'ready') return;
        this.#subscribed = true;
        this.#lastAnswerAt = performance.now();
      },
      () => {
        // Not connected: tried again on the next 'ready'.
      },
    );
  }

  /** One PING in flight at most: a paused or cut connection stops answering and the channel goes stale. */
  #beat(): void {
    const conn = this.#subscriberConnection();
    if (conn !== this.#beatConnection) {
      // A Cluster moved its subscriber to another node: notifications may have been missed.
      const moved = this.#beatConnection !== undefined;
      this.#beatConnection = conn;
      if (moved) {
        this.#subscribed = false;
        this.#emit(undefined);
        if (conn) this.#confirmSubscription();
      }
    }
    if (this.#pinging || !this.#subscribed || !conn) return;
    this.#pinging = true;
    conn.ping().then(
      () => {
        this.#pinging = false;
        this.#lastAnswerAt = performance.now();
      },
      () => {
        this.#pinging = false;
      },
    );
  }

  /**
   * The connection that carries the subscription: the subscriber itself, or for a Cluster the node
   * connection ioredis picked for it (internal API; without it the channel never counts as live,
   * which only costs the long TTL).
   */
  #subscriberConnection(): { ping(): Promise<unknown> } | undefined {
    if (!(this.#subscriber instanceof Cluster)) return this.#subscriber;
    const inner = (this.#subscriber as unknown as { subscriber?: { getInstance?: () => { ping(): Promise<unknown> } | null } }).subscriber;
    return inner?.getInstance?.() ?? undefined;
  }

  #emit(keys: readonly string[] | undefined): void {
    for (const l of this.#listeners) l(keys);
  }

  async #publish(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.#client.publish(this.#channel, JSON.stringify(keys));
  }

  async #unindex(key: string, record: SessionRecord): Promise<void> {
    await Promise.all(indexNames(record).map((name) => this.#client.srem(this.#indexKey(name), key)));
  }

  #sessionKey(key: string): string {
    return `${this.#prefix}s:${key}`;
  }

  #indexKey(name: string): string {
    return `${this.#prefix}i:${name}`;
  }

  #tombstoneKey(key: string): string {
    return `${this.#prefix}r:${key}`;
  }
}

function parse(json: string | null): SessionRecord | undefined {
  if (json === null) return undefined;
  try {
    return JSON.parse(json) as SessionRecord;
  } catch {
    return undefined;
  }
}

/** A literal for a SCAN MATCH pattern (a key prefix may hold glob characters). */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** The client's command timeout (session.redis.command_timeout), as redis-client.ts set it. */
function commandTimeoutOf(client: RedisClient): number {
  const options = client instanceof Cluster ? client.options.redisOptions : client.options;
  const ms = options?.commandTimeout;
  return typeof ms === 'number' && ms > 0 ? ms : 2000;
}
