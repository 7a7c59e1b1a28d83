// Many real sessions for the benches: made through Gatehouse's own session manager (the same
// record, cookie MAC and Redis layout as a sign-in makes), straight into the Redis a bench's
// Gatehouse uses, so 10,000 sessions take seconds instead of 10,000 OIDC sign-ins. Each session
// is a distinct user in the group the bench routes allow (ml-admins).
import { compileConfig } from '../../src/config/compile.ts';
import { silentLogger } from '../../src/log.ts';
import { sessionsFromConfig, waitForStore } from '../../src/session/create.ts';

export interface ManySessionsOptions {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly secret: string;
  readonly count: number;
  readonly groups?: readonly string[];
  readonly idp?: string;
}

/** Make `count` sessions; returns their cookie values (the part after `name=`). */
export async function createSessions(o: ManySessionsOptions): Promise<string[]> {
  const { config } = compileConfig({
    server: { public_url: 'http://127.0.0.1:4180' },
    session: { store: 'redis', redis: { url: o.redisUrl, key_prefix: o.keyPrefix }, secret: o.secret, cookie: { secure: false } },
    audit: { sinks: [] },
    routes: [{ name: 'app', upstream: 'http://127.0.0.1:5000', allow: { authenticated: true } }],
  });
  const sessions = sessionsFromConfig(config.session, silentLogger);
  const values: string[] = [];
  try {
    if (!(await waitForStore(sessions.store, 15_000))) throw new Error(`redis at ${o.redisUrl} did not answer`);
    const batch = 200;
    for (let i = 0; i < o.count; i += batch) {
      const made = await Promise.all(
        Array.from({ length: Math.min(batch, o.count - i) }, (_, j) =>
          sessions.create({
            user: `bench-user-${i + j}@example.com`,
            email: `bench-user-${i + j}@example.com`,
            name: `Bench User ${i + j}`,
            groups: o.groups ?? ['ml-admins'],
            idp: o.idp ?? 'corp',
            method: 'oidc',
          }),
        ),
      );
      for (const m of made) values.push(m.cookieValue);
    }
  } finally {
    await sessions.store.close();
  }
  return values;
}

/** Commands the Redis server has run so far (the sum of INFO commandstats calls). */
export async function redisCommandCount(redisUrl: string): Promise<number> {
  const { Redis } = await import('ioredis');
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
