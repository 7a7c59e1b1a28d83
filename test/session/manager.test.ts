// Session lifecycle with an injected clock over the memory store: timeouts, throttled renewal,
// rotation, revocation, sealed tokens, CSRF tokens and live connections.
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { Secret } from '../../src/config/secret.ts';
import { createSessionManager } from '../../src/session/manager.ts';
import { createMemoryStore } from '../../src/session/memory-store.ts';
import type { OneTimeStore } from '../../src/session/one-time.ts';
import type { SessionStore } from '../../src/session/store.ts';
import { sessionKey } from '../../src/session/cookie.ts';

const SECRET = new Secret('0123456789abcdefghijklmnopqrstuvwxyzABCDEF');

function sessionConfig(idle = '30m', absolute = '12h') {
  return compileConfig({
    server: { public_url: 'https://ml.corp.example' },
    session: { idle_timeout: idle, absolute_timeout: absolute, secret: SECRET.value() },
    routes: [{ name: 'r', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
  }).config.session;
}

/** Counts writes that reach the store, to prove renewal is throttled. */
function counting(store: SessionStore & OneTimeStore): SessionStore & OneTimeStore & { touches: number } {
  const c = Object.create(store) as SessionStore & OneTimeStore & { touches: number };
  c.touches = 0;
  c.touch = async (...args) => {
    c.touches++;
    return store.touch(...args);
  };
  return c;
}

function setup(idle = '30m', absolute = '12h') {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const store = counting(createMemoryStore({ maxSessions: 100, now }));
  const manager = createSessionManager({ config: sessionConfig(idle, absolute), secret: SECRET, store, now });
  return { clock, store, manager };
}

const alice = { user: 'alice@corp.example', email: 'alice@corp.example', groups: ['ml-admins'], idp: 'corp', method: 'oidc' };
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('session manager', () => {
  it('mints a 256-bit id, stores only its hash, and resolves the cookie', async () => {
    const { manager, store } = setup();
    const { cookieValue, key, record } = await manager.create(alice);
    const [id] = cookieValue.split('.');
    expect(Buffer.from(id!, 'base64url')).toHaveLength(32);
    expect(key).toBe(sessionKey(id!));
    expect(key).not.toContain(id);
    expect(await store.get(key)).toEqual(record);
    const found = await manager.lookup(cookieValue);
    expect(found).toMatchObject({ state: 'active', key, record: { user: 'alice@corp.example', groups: ['ml-admins'] } });
  });

  it('lookupNow answers without a promise from a fresh cached copy, and goes to the store otherwise', async () => {
    const clock = { now: 1_700_000_000_000 };
    const now = () => clock.now;
    const memory = createMemoryStore({ maxSessions: 100, now });
    const store = Object.assign(Object.create(memory) as SessionStore & OneTimeStore, { shared: true, invalidationLive: () => false });
    const manager = createSessionManager({ config: sessionConfig('30m'), secret: SECRET, store, now, cacheTtlMs: 1000 });
    const { cookieValue, key } = await manager.create(alice);
    expect(manager.lookupNow(cookieValue)).toMatchObject({ state: 'active', key, record: { user: 'alice@corp.example' } });
    expect(manager.lookupNow('forged.value')).toEqual({ state: 'invalid' });
    clock.now += 1000; // the copy is a TTL old: the store's word
    const read = manager.lookupNow(cookieValue);
    expect(read).toBeInstanceOf(Promise);
    expect(await read).toMatchObject({ state: 'active', key });
    expect(manager.lookupNow(cookieValue)).toMatchObject({ state: 'active', key });
    clock.now += 30 * 60_000; // idle: only the store may say so, then it is ended
    const idle = manager.lookupNow(cookieValue);
    expect(idle).toBeInstanceOf(Promise);
    expect(await idle).toMatchObject({ state: 'expired', why: 'idle' });
  });

  it('rotates: every sign-in gets a new id, even for the same user', async () => {
    const { manager } = setup();
    const a = await manager.create(alice);
    const b = await manager.create(alice);
    expect(a.cookieValue).not.toBe(b.cookieValue);
    expect(a.key).not.toBe(b.key);
  });

  it('refuses forged, truncated and foreign-secret cookies without a store lookup', async () => {
    const { manager } = setup();
    const { cookieValue } = await manager.create(alice);
    const tampered = `${cookieValue.slice(0, 10)}${cookieValue[10] === 'A' ? 'B' : 'A'}${cookieValue.slice(11)}`;
    for (const v of [tampered, cookieValue.slice(0, -1), 'garbage', '', `${cookieValue}x`]) {
      expect(await manager.lookup(v), v).toEqual({ state: 'invalid' });
    }
    const other = createSessionManager({
      config: sessionConfig(),
      secret: new Secret('another-secret-another-secret-another-secret'),
      store: createMemoryStore({ maxSessions: 10 }),
    });
    expect(await other.lookup(cookieValue)).toEqual({ state: 'invalid' });
  });

  it('ends a session unused for idle_timeout, to the millisecond of the clock', async () => {
    const { manager, clock, store } = setup('30m');
    const { cookieValue, key } = await manager.create(alice);
    clock.now += 30 * 60_000 - 1;
    expect((await manager.lookup(cookieValue)).state).toBe('active');
    await flush();
    // That lookup renewed the session; unused for a full idle period from now, it ends.
    clock.now += 30 * 60_000;
    // The store kept the ended record (EXPIRED_GRACE_MS): the lookup says whose session ended, and deletes it.
    expect(await manager.lookup(cookieValue)).toMatchObject({ state: 'expired', key, why: 'idle', record: { user: alice.user } });
    expect(await store.get(key)).toBeUndefined();
    expect(await manager.lookup(cookieValue)).toEqual({ state: 'expired', key, why: 'idle' });
  });

  it('ends a session at absolute_timeout however much it is used', async () => {
    const { manager, clock } = setup('30m', '2h');
    const { cookieValue, key } = await manager.create(alice);
    for (let t = 0; t < 2 * 60 - 10; t += 10) {
      clock.now += 10 * 60_000;
      expect((await manager.lookup(cookieValue)).state).toBe('active');
      await flush();
    }
    clock.now += 10 * 60_000;
    // The store keeps the record past the deadline (EXPIRED_GRACE_MS), so the end is named as absolute.
    expect(await manager.lookup(cookieValue)).toMatchObject({ state: 'expired', key, why: 'absolute', record: { user: alice.user } });
  });

  it('renews at most once per tenth of the idle timeout, however many requests', async () => {
    const { manager, clock, store } = setup('30m');
    const { cookieValue } = await manager.create(alice);
    for (let i = 0; i < 100; i++) {
      clock.now += 1000; // 100 requests over 100 s < 3 min
      await manager.lookup(cookieValue);
    }
    await flush();
    expect(store.touches).toBe(0);
    clock.now += 3 * 60_000 - 100_000;
    await manager.lookup(cookieValue);
    await manager.lookup(cookieValue);
    await flush();
    expect(store.touches).toBe(1);
    for (let i = 0; i < 50; i++) await manager.lookup(cookieValue);
    await flush();
    expect(store.touches).toBe(1);
  });

  it('revokes one session or all of a user, and says so on lookup', async () => {
    const { manager } = setup();
    const a1 = await manager.create(alice);
    const a2 = await manager.create(alice);
    const b = await manager.create({ ...alice, user: 'bob' });
    expect(await manager.revoke(a1.key)).toBe(true);
    expect(await manager.lookup(a1.cookieValue)).toEqual({ state: 'revoked', key: a1.key });
    expect((await manager.list('alice@corp.example')).map((s) => s.id)).toEqual([a2.key]);
    expect(await manager.revokeUser('alice@corp.example')).toEqual([a2.key]);
    expect((await manager.lookup(a2.cookieValue)).state).toBe('revoked');
    expect((await manager.lookup(b.cookieValue)).state).toBe('active');
  });

  it('lists sessions without anything usable as a cookie', async () => {
    const { manager } = setup();
    const { cookieValue } = await manager.create(alice);
    const list = await manager.list('alice@corp.example');
    expect(list).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(cookieValue.split('.')[0]);
    expect(list[0]).toMatchObject({ record: { user: 'alice@corp.example', idp: 'corp', method: 'oidc' } });
  });

  it('seals IdP tokens with AES-256-GCM bound to the session', async () => {
    const { manager, store } = setup();
    const tokens = { refresh_token: 'rt-very-secret-value', id_token: 'eyJhbGciOi.payload.sig' };
    const { key, record } = await manager.create({ ...alice, tokens });
    const stored = JSON.stringify(await store.get(key));
    expect(stored).not.toContain('rt-very-secret-value');
    expect(stored).not.toContain('eyJhbGciOi');
    expect(manager.tokens(key, record)).toEqual(tokens);
    // Moved to another session key, or tampered: refused.
    expect(manager.tokens('another-key', record)).toBeUndefined();
    const flipped = { ...record, tokens: `${record.tokens!.slice(0, -2)}AA` };
    expect(manager.tokens(key, flipped)).toBeUndefined();
  });

  it('issues CSRF tokens bound to one session', async () => {
    const { manager } = setup();
    const a = await manager.create(alice);
    const b = await manager.create(alice);
    const t = manager.csrfToken(a.key);
    expect(manager.verifyCsrf(a.key, t)).toBe(true);
    expect(manager.verifyCsrf(b.key, t)).toBe(false);
    expect(manager.verifyCsrf(a.key, '')).toBe(false);
  });

  it('ends live connections when their session is revoked', async () => {
    const { manager } = setup();
    const s = await manager.create(alice);
    const ended: string[] = [];
    const unwatch = manager.watch(s.key, s.record, { end: (why) => ended.push(`one:${why}`) });
    manager.watch(s.key, s.record, { end: (why) => ended.push(`two:${why}`) });
    expect(manager.live.size()).toBe(2);
    unwatch();
    expect(manager.live.size()).toBe(1);
    await manager.revoke(s.key);
    expect(ended).toEqual(['two:revoked']);
    expect(manager.live.size()).toBe(0);
  });
});
