// compileConfig() and the `session` block: the shape checks of schema.ts and the cross-key checks
// of compileSession / compileCookie / compileRedis, each failure named by its exact key path.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import type { CompileResult } from '../../src/config/types.ts';
import { Secret } from '../../src/config/secret.ts';
import { ConfigError, type ConfigProblem } from '../../src/errors.ts';

type Raw = Record<string, any>;

const PROD_URL = 'https://ml.corp.example';
const DEV_URL = 'http://127.0.0.1:4180';
const SECRET = 'kJ8vQ2mN5pR7tW9yB3dF6hL1zX4cV0aS-session-secret';
const PASSWORD = 'hunter2-redis-password';

/** The minimal valid config with `session` (https public_url unless told otherwise). */
function raw(session?: Raw, publicUrl = PROD_URL): Raw {
  return {
    server: { public_url: publicUrl },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:5000', allow: { public: true } }],
    ...(session === undefined ? {} : { session }),
  };
}

function compileError(input: unknown): ConfigError {
  let caught: unknown;
  try {
    compileConfig(input);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'compileConfig should have thrown').toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.code).toBe('GH_CONFIG_INVALID');
  return err;
}

/** Exactly one problem at `path` whose message contains `fragment`; the rendered message names it too. */
function expectProblem(err: ConfigError, path: string, fragment: string): ConfigProblem {
  const at = err.problems.filter((p) => p.path === path);
  const match = at.find((p) => p.message.includes(fragment));
  expect(match, `expected a problem at ${path} containing ${JSON.stringify(fragment)}; got ${JSON.stringify(err.problems)}`).toBeDefined();
  expect(err.message).toContain(`${path}: ${match!.message}`);
  return match!;
}

/** Only these paths have problems (nothing else in the config is blamed). */
function expectOnlyPaths(err: ConfigError, paths: string[]): void {
  expect([...new Set(err.problems.map((p) => p.path))].sort()).toEqual([...paths].sort());
}

function compileOk(input: unknown): CompileResult {
  return compileConfig(input);
}

describe('session defaults', () => {
  it('memory store, __Host- cookie, Secure, SameSite Lax, 30 min idle, 12 h absolute', () => {
    const { config, warnings } = compileOk(raw());
    const s = config.session;
    expect(s.store).toBe('memory');
    expect(s.redis).toBeUndefined();
    expect(s.maxSessions).toBe(100_000);
    expect(s.cookie).toEqual({ name: '__Host-gatehouse', secure: true, sameSite: 'Lax', domain: undefined });
    expect(s.idleMs).toBe(1_800_000);
    expect(s.absoluteMs).toBe(43_200_000);
    expect(s.secret).toBeUndefined();
    expect(warnings.some((w) => w.includes('session.secret') && w.includes('random per-process secret'))).toBe(true);
    expect(warnings.some((w) => w.includes('memory') && w.includes('single process'))).toBe(true);
  });

  it('an empty session block gets the same defaults', () => {
    const a = compileOk(raw()).config.session;
    const b = compileOk(raw({})).config.session;
    expect(b).toEqual(a);
  });

  it('with a secret: no random-secret warning, and the secret is a Secret', () => {
    const { config, warnings } = compileOk(raw({ secret: SECRET }));
    expect(config.session.secret).toBeInstanceOf(Secret);
    expect(config.session.secret!.value()).toBe(SECRET);
    expect(warnings.some((w) => w.includes('random per-process secret'))).toBe(false);
  });

  it('compiles same_site strict / none and explicit timeouts', () => {
    expect(compileOk(raw({ cookie: { same_site: 'strict' } })).config.session.cookie.sameSite).toBe('Strict');
    expect(compileOk(raw({ cookie: { same_site: 'none' } })).config.session.cookie.sameSite).toBe('None');
    const s = compileOk(raw({ idle_timeout: '15m', absolute_timeout: '1d', memory: { max_sessions: 10 } })).config.session;
    expect(s).toMatchObject({ idleMs: 900_000, absoluteMs: 86_400_000, maxSessions: 10 });
  });
});

describe('session.secret', () => {
  it('shorter than 32 bytes is too weak', () => {
    const err = compileError(raw({ secret: 'only-31-bytes-long-0123456789ab' }));
    expect(Buffer.byteLength('only-31-bytes-long-0123456789ab')).toBe(31);
    expectProblem(err, 'session.secret', 'too weak');
    expectOnlyPaths(err, ['session.secret']);
  });

  it('exactly 32 bytes is enough', () => {
    const secret = 'exactly-32-bytes-long-0123456789';
    expect(Buffer.byteLength(secret)).toBe(32);
    expect(compileOk(raw({ secret })).config.session.secret!.value()).toBe(secret);
  });

  it('counts bytes, not characters', () => {
    // 16 characters, 32 bytes in UTF-8: long enough.
    const secret = 'éüöäßçñøåæœłžšđć';
    expect(secret.length).toBe(16);
    expect(compileOk(raw({ secret })).config.session.secret!.value()).toBe(secret);
  });

  it('one repeated character is too weak however long', () => {
    const err = compileError(raw({ secret: 'a'.repeat(64) }));
    expectProblem(err, 'session.secret', 'too weak');
    expectProblem(err, 'session.secret', 'single repeated character');
    expectOnlyPaths(err, ['session.secret']);
  });

  it('is required with store: redis', () => {
    const err = compileError(raw({ store: 'redis', redis: { url: 'redis://10.0.0.5:6379' } }));
    expectProblem(err, 'session.secret', 'required');
    expectOnlyPaths(err, ['session.secret']);
  });
});

describe('session.redis', () => {
  const redisSession = (redis: Raw | undefined): Raw => ({ store: 'redis', secret: SECRET, ...(redis === undefined ? {} : { redis }) });

  it('store: redis without a redis block', () => {
    const err = compileError(raw(redisSession(undefined)));
    expectProblem(err, 'session.redis', 'required with store: redis');
    expectOnlyPaths(err, ['session.redis']);
  });

  it('url and cluster together', () => {
    const err = compileError(raw(redisSession({ url: 'redis://10.0.0.5:6379', cluster: ['10.0.0.6:6379'] })));
    expectProblem(err, 'session.redis', 'exactly one');
    expectOnlyPaths(err, ['session.redis']);
  });

  it('an empty redis block (no url, sentinels or cluster)', () => {
    const err = compileError(raw(redisSession({})));
    expectProblem(err, 'session.redis', 'exactly one');
  });

  it('sentinels without name', () => {
    const err = compileError(raw(redisSession({ sentinels: ['10.0.0.7:26379'] })));
    expectProblem(err, 'session.redis.name', 'required with sentinels');
    expectOnlyPaths(err, ['session.redis.name']);
  });

  it('a url that is not redis:// or rediss://', () => {
    const err = compileError(raw(redisSession({ url: 'http://10.0.0.5:6379' })));
    expectProblem(err, 'session.redis.url', 'redis:// or rediss://');
    expectOnlyPaths(err, ['session.redis.url']);
  });

  it('a sentinel port out of range', () => {
    const err = compileError(raw(redisSession({ sentinels: ['10.0.0.7:26379', '10.0.0.8:70000'], name: 'mymaster' })));
    expectProblem(err, 'session.redis.sentinels[1]', 'port must be 0-65535');
    expectOnlyPaths(err, ['session.redis.sentinels[1]']);
  });

  it('a cluster seed that is not host:port', () => {
    const err = compileError(raw(redisSession({ cluster: ['10.0.0.6'] })));
    expectProblem(err, 'session.redis.cluster[0]', 'host:port');
  });

  it('standalone url: mode, defaults for prefix and command timeout, tls off', () => {
    const r = compileOk(raw(redisSession({ url: 'redis://10.0.0.5:6379/2' }))).config.session.redis!;
    expect(r).toMatchObject({ mode: 'standalone', nodes: [], tls: false, keyPrefix: 'gatehouse:', commandTimeoutMs: 2000 });
    expect(r.url!.value()).toBe('redis://10.0.0.5:6379/2');
  });

  it('rediss:// implies tls', () => {
    const r = compileOk(raw(redisSession({ url: 'rediss://redis.corp.example:6380' }))).config.session.redis!;
    expect(r.tls).toBe(true);
  });

  it('sentinels + name: mode sentinel with parsed nodes (IPv6 too)', () => {
    const { config, warnings } = compileOk(
      raw(redisSession({ sentinels: ['10.0.0.7:26379', '[fd00::8]:26380'], name: 'mymaster', db: 3, tls: true })),
    );
    const r = config.session.redis!;
    expect(r).toMatchObject({ mode: 'sentinel', name: 'mymaster', db: 3, tls: true, url: undefined });
    expect(r.nodes).toEqual([
      { host: '10.0.0.7', port: 26379 },
      { host: 'fd00::8', port: 26380 },
    ]);
    expect(warnings.some((w) => w.includes('memory'))).toBe(false);
  });

  it('cluster: mode cluster, key prefix and command timeout as given', () => {
    const r = compileOk(raw(redisSession({ cluster: ['10.0.0.6:7000', '10.0.0.6:7001'], key_prefix: 'gh:', command_timeout: '500ms' })))
      .config.session.redis!;
    expect(r).toMatchObject({ mode: 'cluster', keyPrefix: 'gh:', commandTimeoutMs: 500 });
    expect(r.nodes).toEqual([
      { host: '10.0.0.6', port: 7000 },
      { host: '10.0.0.6', port: 7001 },
    ]);
  });

  it('rejects contradictory redis settings', () => {
    for (const [extra, path] of [
      [{ url: 'rediss://10.0.0.5:6379', tls: false }, 'session.redis.tls'],
      [{ cluster: ['10.0.0.6:7000'], db: 2 }, 'session.redis.db'],
      [{ url: 'redis://10.0.0.5:6379', command_timeout: '0s' }, 'session.redis.command_timeout'],
      [{ url: 'redis://10.0.0.5:6379', name: 'mymaster' }, 'session.redis'],
    ] as const) {
      const err = compileError(raw(redisSession(extra as Record<string, unknown>)));
      expect(
        err.problems.map((p) => p.path),
        JSON.stringify(extra),
      ).toContain(path);
    }
    expect(compileOk(raw(redisSession({ url: 'REDISS://10.0.0.5:6379' }))).config.session.redis!.tls).toBe(true);
    expect(compileError(raw({ ...redisSession({ url: 'redis://10.0.0.5:6379' }), secret: '😀'.repeat(8) })).problems[0]!.message).toContain(
      'repeated',
    );
  });

  it('the url (with its password), password and sentinel_password are Secrets that never print', () => {
    const url = `redis://gh:${PASSWORD}@10.0.0.5:6379/0`;
    const { config } = compileOk(raw(redisSession({ url, username: 'gh', password: `${PASSWORD}-2` })));
    const r = config.session.redis!;
    const sentinel = compileOk(raw(redisSession({ sentinels: ['10.0.0.1:26379'], name: 'm', sentinel_password: `${PASSWORD}-3` }))).config
      .session.redis!;
    for (const s of [r.url, r.password, sentinel.sentinelPassword]) {
      expect(s).toBeInstanceOf(Secret);
      expect(String(s)).toBe('[redacted]');
      expect(`${s}`).toBe('[redacted]');
      expect(JSON.stringify(s)).toBe('"[redacted]"');
      expect(inspect(s)).toBe('[redacted]');
    }
    expect(r.url!.value()).toBe(url);
    expect(r.password!.value()).toBe(`${PASSWORD}-2`);
    expect(sentinel.sentinelPassword!.value()).toBe(`${PASSWORD}-3`);
    expect(r.username).toBe('gh');
    // Nowhere in the whole compiled config, whichever way it is printed.
    expect(JSON.stringify(config)).not.toContain(PASSWORD);
    expect(inspect(config, { depth: 10 })).not.toContain(PASSWORD);
    expect(JSON.stringify(config.session)).not.toContain(SECRET);
  });

  it('a redis block with store: memory is unused, and a warning says so', () => {
    const { config, warnings } = compileOk(raw({ redis: { url: 'redis://10.0.0.5:6379' } }));
    expect(config.session.redis).toBeUndefined();
    expect(warnings.some((w) => w.includes('session.redis is set but session.store is memory'))).toBe(true);
  });
});

describe('session.cookie', () => {
  it('domain set: default name __Secure-gatehouse, domain lower-cased', () => {
    const c = compileOk(raw({ cookie: { domain: 'Corp.Example' } })).config.session.cookie;
    expect(c).toEqual({ name: '__Secure-gatehouse', secure: true, sameSite: 'Lax', domain: 'corp.example' });
  });

  it('domain with an explicit __Host- name', () => {
    const err = compileError(raw({ cookie: { domain: 'corp.example', name: '__Host-x' } }));
    expectProblem(err, 'session.cookie.name', '__Host-');
    expectOnlyPaths(err, ['session.cookie.name']);
  });

  it('an explicit name without a domain is kept', () => {
    expect(compileOk(raw({ cookie: { name: '__Host-ml' } })).config.session.cookie.name).toBe('__Host-ml');
  });

  it('a name that is not a cookie token', () => {
    const err = compileError(raw({ cookie: { name: 'gate house' } }));
    expectProblem(err, 'session.cookie.name', 'cookie name token');
  });

  it('secure: false outside dev mode', () => {
    const err = compileError(raw({ cookie: { secure: false } }));
    expectProblem(err, 'session.cookie.secure', 'dev mode');
    expectOnlyPaths(err, ['session.cookie.secure']);
  });

  it('secure: false in dev mode is accepted; the name drops its prefix and a warning says so', () => {
    const { config, warnings } = compileOk(raw({ cookie: { secure: false } }, DEV_URL));
    expect(config.devMode).toBe(true);
    expect(config.session.cookie).toMatchObject({ name: 'gatehouse', secure: false, sameSite: 'Lax' });
    expect(warnings.some((w) => w.includes('not Secure') && w.includes('"gatehouse"'))).toBe(true);
  });

  it('secure: false in dev mode with a __Secure- name and a domain drops that prefix too', () => {
    const { config } = compileOk(raw({ cookie: { secure: false, domain: 'localhost', name: '__Secure-ml' } }, DEV_URL));
    expect(config.session.cookie).toMatchObject({ name: 'ml', secure: false, domain: 'localhost' });
  });

  it('same_site: none with secure: false (even in dev mode)', () => {
    const err = compileError(raw({ cookie: { secure: false, same_site: 'none' } }, DEV_URL));
    expectProblem(err, 'session.cookie.same_site', 'requires secure: true');
    expectOnlyPaths(err, ['session.cookie.same_site']);
  });

  it('same_site: none with secure: false outside dev mode names both keys', () => {
    const err = compileError(raw({ cookie: { secure: false, same_site: 'none' } }));
    expectProblem(err, 'session.cookie.secure', 'dev mode');
    expectProblem(err, 'session.cookie.same_site', 'requires secure: true');
  });

  it('a bad same_site value', () => {
    const err = compileError(raw({ cookie: { same_site: 'None' } }));
    expect(err.problems.map((p) => p.path)).toEqual(['session.cookie.same_site']);
  });

  it('an unknown key inside session.cookie', () => {
    const err = compileError(raw({ cookie: { http_only: true } }));
    expectProblem(err, 'session.cookie.http_only', 'unknown key');
    expectOnlyPaths(err, ['session.cookie.http_only']);
  });

  it('unknown keys inside session and session.redis', () => {
    const err = compileError(raw({ stroe: 'redis', redis: { url: 'redis://10.0.0.5:6379', prefix: 'x' } }));
    expectProblem(err, 'session.stroe', 'unknown key');
    expectProblem(err, 'session.redis.prefix', 'unknown key');
  });
});

describe('session timeouts', () => {
  it('idle_timeout longer than absolute_timeout', () => {
    const err = compileError(raw({ idle_timeout: '2h', absolute_timeout: '1h' }));
    expectProblem(err, 'session.idle_timeout', 'absolute_timeout');
    expectOnlyPaths(err, ['session.idle_timeout']);
  });

  it('idle_timeout equal to absolute_timeout is fine', () => {
    expect(compileOk(raw({ idle_timeout: '1h', absolute_timeout: '60m' })).config.session).toMatchObject({
      idleMs: 3_600_000,
      absoluteMs: 3_600_000,
    });
  });

  it('idle_timeout under 1 s', () => {
    const err = compileError(raw({ idle_timeout: '500ms' }));
    expectProblem(err, 'session.idle_timeout', 'at least 1s');
  });

  it('a timeout that is not a duration', () => {
    const err = compileError(raw({ absolute_timeout: '12 hours' }));
    expectProblem(err, 'session.absolute_timeout', 'duration');
  });
});

describe('several session problems at once', () => {
  it('are all reported together', () => {
    const err = compileError(raw({ store: 'redis', secret: 'short', cookie: { secure: false }, idle_timeout: '13h' }));
    expectProblem(err, 'session.secret', 'too weak');
    expectProblem(err, 'session.redis', 'required');
    expectProblem(err, 'session.cookie.secure', 'dev mode');
    expectProblem(err, 'session.idle_timeout', 'absolute_timeout');
    expect(err.message).toMatch(/^invalid configuration \(4 problems\):/);
  });
});
