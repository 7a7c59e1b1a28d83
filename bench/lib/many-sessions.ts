// Many valid sessions for benchmarks: written through Gatehouse's own session manager and Redis
// store (same keys, indexes, TTLs and cookie MAC a sign-in produces), so a bench can drive
// thousands of distinct users instead of one cached cookie. Also the Redis command counter the
// benches divide by the number of requests (INFO commandstats, summed over every command).
import { Redis } from 'ioredis';
import { compileConfig } from '../../src/config/compile.ts';
import { silentLogger } from '../../src/log.ts';
import { sessionsFromConfig } from '../../src/session/create.ts';

export interface SessionUser {
  readonly user: string;
  readonly groups?: readonly string[];
  readonly email?: string;
  readonly name?: string;
}

export interface ManySessionsOptions {
  readonly redisUrl: string;
  /** session.redis.key_prefix of the Gatehouse under test (e.g. "bench:"). */
  readonly keyPrefix: string;
  /** session.secret of the Gatehouse under test. */
  readonly secret: string;
  readonly count: number;
  /** Identity of session i; default user<i>@corp.example in group "ml". */
  readonly user?: (i: number) => SessionUser;
  /** The session's identity provider id (record.idp); default "bench". */
  readonly idp?: string;
  /** Cookie name in the returned header values; default the name Gatehouse uses with `cookie: { secure: false }`. */
  readonly cookieName?: string;
  /** session.idle_timeout / absolute_timeout of the Gatehouse under test, when not the defaults. */
  readonly idleTimeout?: string;
  readonly absoluteTimeout?: string;
}

/** Cookie header values (`name=value`) of `count` fresh, valid sessions, in creation order. */
export async function createSessions(opts: ManySessionsOptions): Promise<string[]> {
  const { config } = compileConfig({
    server: { public_url: 'http://127.0.0.1:1' },
    session: {
      store: 'redis',
      redis: { url: opts.redisUrl, key_prefix: opts.keyPrefix },
      secret: opts.secret,
      cookie: { secure: false },
      ...(opts.idleTimeout !== undefined ? { idle_timeout: opts.idleTimeout } : {}),
      ...(opts.absoluteTimeout !== undefined ? { absolute_timeout: opts.absoluteTimeout } : {}),
    },
    routes: [{ name: 'x', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
  });
  const sessions = sessionsFromConfig(config.session, silentLogger);
  const name = opts.cookieName ?? sessions.cookie.name;
  const who = opts.user ?? ((i: number): SessionUser => ({ user: `user${i}@corp.example`, groups: ['ml'] }));
  const out: string[] = new Array(opts.count);
  try {
    await waitReady(sessions.store);
    const BATCH = 200;
    for (let start = 0; start < opts.count; start += BATCH) {
      const end = Math.min(opts.count, start + BATCH);
      const batch = [];
      for (let i = start; i < end; i++) {
        const u = who(i);
        batch.push(
          sessions
            .create({ user: u.user, email: u.email, name: u.name, groups: u.groups ?? [], idp: opts.idp ?? 'bench', method: 'bench' })
            .then(({ cookieValue }) => {
              out[i] = `${name}=${cookieValue}`;
            }),
        );
      }
      await Promise.all(batch);
    }
  } finally {
    await sessions.close();
  }
  return out;
}

/** Total commands the Redis server has processed (sum of `calls` over INFO commandstats). */
export async function redisCommandCount(redisUrl: string): Promise<number> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info('commandstats');
    let total = 0;
    for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(m[1]);
    return total;
  } finally {
    client.disconnect();
  }
}

async function waitReady(store: { ping(): Promise<void> }): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await store.ping();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw last;
}
