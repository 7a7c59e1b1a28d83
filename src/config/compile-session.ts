// session: store (memory, Redis standalone / Sentinel / Cluster), cookie, secret, timeouts.
import { Findings, type Checked } from './findings.ts';
import type { RawSession } from './schema.ts';
import { Secret } from './secret.ts';
import type { CookieConfig, RedisConfig, SessionConfig } from './types.ts';
import { parseDuration, parseHostPort } from './units.ts';

const MIN_SECRET_BYTES = 32;

export function compileSession(session: RawSession, devMode: boolean): Checked<SessionConfig> {
  const f = new Findings();
  const idleMs = parseDuration(session.idle_timeout);
  const absoluteMs = parseDuration(session.absolute_timeout);
  if (idleMs > absoluteMs) f.problem('session.idle_timeout', 'must not be longer than session.absolute_timeout');
  if (idleMs < 1000) f.problem('session.idle_timeout', 'must be at least 1s');

  let secret: Secret | undefined;
  if (session.secret !== undefined) {
    if (Buffer.byteLength(session.secret) < MIN_SECRET_BYTES) {
      f.problem('session.secret', `too weak: must be at least ${MIN_SECRET_BYTES} bytes (e.g. \`openssl rand -base64 48\`)`);
    } else if (/^(.)\1*$/su.test(session.secret)) {
      f.problem('session.secret', 'too weak: a single repeated character');
    }
    secret = new Secret(session.secret);
  } else if (session.store === 'redis') {
    f.problem('session.secret', 'required with store: redis (every replica must sign cookies with the same secret)');
  } else {
    f.warn('session.secret is not set: using a random per-process secret (sessions end when the process restarts)');
  }

  const cookie = f.take(compileCookie(session.cookie, devMode));

  let redis: RedisConfig | undefined;
  if (session.store === 'redis') {
    if (!session.redis) f.problem('session.redis', 'required with store: redis (url, or sentinels + name, or cluster)');
    else redis = f.take(compileRedis(session.redis));
  } else {
    if (session.redis) f.warn('session.redis is set but session.store is memory: Redis is not used');
    f.warn('session store: memory (single process; sessions are lost on restart and not shared between replicas)');
  }

  const cacheTtlMs = parseDuration(session.cache?.ttl ?? '5m');
  if (cacheTtlMs < 1000 || cacheTtlMs > 3_600_000) f.problem('session.cache.ttl', 'must be between 1s and 1h');

  return f.result({
    store: session.store,
    redis,
    maxSessions: session.memory?.max_sessions ?? 100_000,
    cookie,
    secret,
    idleMs,
    absoluteMs,
    login: { ratePerMinute: session.login?.rate_per_minute ?? 60, maxPending: session.login?.max_pending ?? 10_000 },
    cache: { maxEntries: session.cache?.max_entries ?? 50_000, ttlMs: cacheTtlMs },
  });
}

function compileCookie(cookie: RawSession['cookie'], devMode: boolean): Checked<CookieConfig> {
  const f = new Findings();
  const secure = cookie.secure;
  if (!secure && !devMode) f.problem('session.cookie.secure', 'false is only allowed in dev mode (http public_url on loopback)');
  if (cookie.same_site === 'none' && !secure) f.problem('session.cookie.same_site', '"none" requires secure: true');
  let name = cookie.name ?? (cookie.domain ? '__Secure-gatehouse' : '__Host-gatehouse');
  if (cookie.domain && cookie.name === undefined) {
    f.warn(
      `session.cookie.domain is set, so the cookie is named "__Secure-gatehouse": a __Host- cookie cannot carry a Domain (and is then no longer protected from being set by other subdomains of ${cookie.domain})`,
    );
  }
  // Browsers apply the prefix rules case-insensitively (httpwg/http-extensions#2236): "__host-"
  // with a Domain is dropped as surely as "__Host-".
  if (cookie.domain && /^__host-/i.test(name)) {
    f.problem('session.cookie.name', 'a __Host- cookie cannot have a domain; use a __Secure- name (the default when domain is set)');
  }
  if (!secure) {
    const plain = name.replace(/^__(host|secure)-/i, '');
    if (plain !== name) f.warn(`dev mode: session cookie is not Secure, so its name drops the prefix: "${plain}"`);
    else f.warn('dev mode: session cookie is not Secure');
    name = plain;
  }
  return f.result({
    name,
    secure,
    sameSite: cookie.same_site === 'lax' ? 'Lax' : cookie.same_site === 'strict' ? 'Strict' : 'None',
    domain: cookie.domain?.toLowerCase(),
  });
}

function compileRedis(redis: NonNullable<RawSession['redis']>): Checked<RedisConfig> {
  const f = new Findings();
  const modes = [redis.url !== undefined, redis.sentinels !== undefined, redis.cluster !== undefined].filter(Boolean).length;
  if (modes !== 1) f.problem('session.redis', 'set exactly one of url, sentinels (+ name) or cluster');
  if (redis.sentinels && !redis.name) f.problem('session.redis.name', 'required with sentinels (the master name)');
  const mode = redis.cluster ? 'cluster' : redis.sentinels ? 'sentinel' : 'standalone';
  const urlTls = redis.url !== undefined && URL.canParse(redis.url) && new URL(redis.url).protocol === 'rediss:';
  if (urlTls && redis.tls === false) f.problem('session.redis.tls', 'false contradicts the rediss:// url');
  if (redis.cluster && redis.db !== undefined) f.problem('session.redis.db', 'Redis Cluster has only database 0');
  if (parseDuration(redis.command_timeout) === 0) f.problem('session.redis.command_timeout', 'must be longer than 0');
  if (redis.url !== undefined && (redis.name !== undefined || redis.sentinel_password !== undefined)) {
    f.problem('session.redis', 'name and sentinel_password belong with sentinels, not url');
  }
  return f.result({
    mode,
    url: redis.url === undefined ? undefined : new Secret(redis.url),
    nodes: (redis.cluster ?? redis.sentinels ?? []).map(parseHostPort),
    name: redis.name,
    username: redis.username,
    password: redis.password === undefined ? undefined : new Secret(redis.password),
    sentinelPassword: redis.sentinel_password === undefined ? undefined : new Secret(redis.sentinel_password),
    tls: redis.tls ?? urlTls,
    db: redis.db,
    keyPrefix: redis.key_prefix,
    commandTimeoutMs: parseDuration(redis.command_timeout),
  });
}
