// Pending sign-ins (src/auth/login-state.ts): the login binding cookie, exactly as it is set,
// read and cleared, and the server-side record it binds, kept in a real memory store whose clock
// the test turns. What matters: the cookie is host-only, HttpOnly, Secure (outside dev mode),
// SameSite=Lax and lives as long as the record; a planted second value binds nothing; a record is
// used once, only by the browser that started it, and a flood of them is bounded.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createLoginCookie,
  LOGIN_TTL_MS,
  LoginLimitError,
  MAX_PENDING_PER_BROWSER,
  savePendingLogin,
  takePendingLogin,
  type PendingLogin,
} from '../../src/auth/login-state.ts';
import { GatehouseError } from '../../src/errors.ts';
import { createMemoryStore } from '../../src/session/memory-store.ts';

const B64URL43 = /^[A-Za-z0-9_-]{43}$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

describe('login cookie', () => {
  const secure = createLoginCookie({ name: '__Host-gatehouse', secure: true, sameSite: 'Strict', domain: 'corp.example' });
  const dev = createLoginCookie({ name: 'gatehouse', secure: false, sameSite: 'None', domain: undefined });

  it('is named after the session cookie', () => {
    expect(secure.name).toBe('__Host-gatehouse-login');
    expect(dev.name).toBe('gatehouse-login');
  });

  it('is set host-only at Path=/, HttpOnly, Secure, SameSite=Lax, for the 10 minutes a sign-in may take', () => {
    expect(LOGIN_TTL_MS).toBe(600_000);
    const { value, setCookie } = secure.ensure(undefined);
    expect(value).toMatch(B64URL43);
    // SameSite=Lax whatever the session cookie's (the IdP sends the browser back cross-site), and
    // never the session cookie's Domain: only this host may read it.
    expect(setCookie).toBe(`__Host-gatehouse-login=${value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=600`);
  });

  it('drops Secure only in dev mode', () => {
    const { value, setCookie } = dev.ensure(undefined);
    expect(setCookie).toBe(`gatehouse-login=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600`);
  });

  it('is cleared with the same attributes and Max-Age=0', () => {
    expect(secure.clear()).toBe('__Host-gatehouse-login=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0');
    expect(dev.clear()).toBe('gatehouse-login=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
  });

  it('a new cookie gets a fresh random value (256 bits) each time', () => {
    const values = new Set(Array.from({ length: 20 }, () => secure.ensure(undefined).value));
    expect(values.size).toBe(20);
    for (const v of values) expect(Buffer.from(v, 'base64url')).toHaveLength(32);
  });

  it('an existing cookie is reused (sign-ins in two tabs), with no Set-Cookie', () => {
    const { value } = secure.ensure(undefined);
    expect(secure.ensure(`a=1; __Host-gatehouse-login=${value}; b=2`)).toEqual({ value, setCookie: undefined });
    expect(secure.read(`__Host-gatehouse-login=${value}`)).toBe(value);
  });

  it('reads only its exact name and only a value of its own shape (43 base64url characters)', () => {
    const v = 'A'.repeat(42) + '_';
    const name = '__Host-gatehouse-login';
    expect(secure.read(undefined)).toBeUndefined();
    expect(secure.read('')).toBeUndefined();
    expect(secure.read(`${name}=${v}`)).toBe(v);
    expect(secure.read(`${name}=${'-'.repeat(43)}`)).toBe('-'.repeat(43));
    for (const bad of [v.slice(1), `${v}A`, `!${v}`, `${v}!`, `${v.slice(1)}+`, `${v.slice(1)}/`, `${v.slice(1)}=`, '']) {
      expect(secure.read(`${name}=${bad}`), bad).toBeUndefined();
    }
    for (const other of [
      '__host-gatehouse-login',
      '__Host-gatehouse-login2',
      'gatehouse-login',
      '__Host-gatehouse',
      'x__Host-gatehouse-login',
    ]) {
      expect(secure.read(`${other}=${v}`), other).toBeUndefined();
    }
    // A pair hidden in another cookie's value is that cookie's.
    expect(secure.read(`x=1 ${name}=${v}`)).toBeUndefined();
    expect(secure.read(`x=${name}=${v}`)).toBeUndefined();
  });

  it('two different well-formed values (one planted from a sibling host): neither is trusted, a new one is set', () => {
    const name = '__Host-gatehouse-login';
    const a = secure.ensure(undefined).value;
    const b = secure.ensure(undefined).value;
    expect(secure.read(`${name}=${a}; ${name}=${b}`)).toBeUndefined();
    const fresh = secure.ensure(`${name}=${a}; ${name}=${b}`);
    expect(fresh.value).not.toBe(a);
    expect(fresh.value).not.toBe(b);
    expect(fresh.setCookie).toBe(`${name}=${fresh.value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=600`);
    // The same value twice is one cookie; a malformed second value is no contender.
    expect(secure.read(`${name}=${a}; ${name}=${a}`)).toBe(a);
    expect(secure.read(`${name}=junk; ${name}=${a}`)).toBe(a);
    expect(secure.read(`${name}=${a}; ${name}=`)).toBe(a);
  });
});

describe('LoginLimitError', () => {
  it('is a 429 GH_TOO_MANY_LOGINS with a Retry-After in whole seconds, at least one', () => {
    const e = new LoginLimitError('busy', 1500);
    expect(e).toBeInstanceOf(GatehouseError);
    expect(e).toMatchObject({ code: 'GH_TOO_MANY_LOGINS', status: 429, name: 'LoginLimitError', message: 'busy', retryAfterSec: 2 });
    expect(new LoginLimitError('x', 0).retryAfterSec).toBe(1);
    expect(new LoginLimitError('x', 1).retryAfterSec).toBe(1);
    expect(new LoginLimitError('x', 1000).retryAfterSec).toBe(1);
    expect(new LoginLimitError('x', 1001).retryAfterSec).toBe(2);
    expect(new LoginLimitError('x', 600_000).retryAfterSec).toBe(600);
  });
});

describe('pending sign-ins in the store', () => {
  function setup() {
    let t = 1_000_000;
    const store = createMemoryStore({ maxSessions: 1000, now: () => t });
    return {
      store,
      advance: (ms: number) => {
        t += ms;
      },
    };
  }
  const login = {
    idp: 'corp',
    returnUrl: '/notebooks/1',
    redirectUri: 'https://gh.example/.gatehouse/oidc/corp/callback',
    nonce: 'n',
    codeVerifier: 'cv',
  };
  const browser = 'B'.repeat(43);
  const other = 'C'.repeat(43);

  it('keeps the sign-in under a hash of the state, bound to a hash of the login cookie, nothing secret in the name', async () => {
    const { store } = setup();
    const before = Date.now();
    await savePendingLogin(store, 'state-1', login, browser, 100);
    const after = Date.now();
    expect(await store.takePending('login:state-1')).toBeUndefined();
    const taken = await store.takePending(`login:${sha256('state-1')}`);
    const record = JSON.parse(taken!.value) as PendingLogin;
    expect(record).toEqual({ ...login, binding: sha256(browser), createdAt: record.createdAt });
    expect(record.createdAt).toBeGreaterThanOrEqual(before);
    expect(record.createdAt).toBeLessThanOrEqual(after);
    expect(taken!.value).not.toContain(browser);
  });

  it('gives the sign-in back once, to the browser that started it', async () => {
    const { store } = setup();
    await savePendingLogin(store, 'state-1', login, browser, 100);
    const got = await takePendingLogin(store, 'state-1', browser);
    expect(got).toEqual({ ok: true, login: { ...login, binding: sha256(browser), createdAt: expect.any(Number) }, othersPending: false });
    expect(await takePendingLogin(store, 'state-1', browser)).toEqual({ ok: false, reason: 'unknown-state' });
    expect(await takePendingLogin(store, 'state-2', browser)).toEqual({ ok: false, reason: 'unknown-state' });
  });

  it('another browser, or none, gets "other-browser", and the sign-in is spent', async () => {
    const { store } = setup();
    await savePendingLogin(store, 'state-1', login, browser, 100);
    expect(await takePendingLogin(store, 'state-1', other)).toEqual({ ok: false, reason: 'other-browser' });
    expect(await takePendingLogin(store, 'state-1', browser)).toEqual({ ok: false, reason: 'unknown-state' });
    await savePendingLogin(store, 'state-2', login, browser, 100);
    expect(await takePendingLogin(store, 'state-2', undefined)).toEqual({ ok: false, reason: 'other-browser' });
    expect(await takePendingLogin(store, 'state-2', browser)).toEqual({ ok: false, reason: 'unknown-state' });
  });

  it('lives 10 minutes', async () => {
    const { store, advance } = setup();
    await savePendingLogin(store, 'early', login, browser, 100);
    await savePendingLogin(store, 'late', login, browser, 100);
    advance(LOGIN_TTL_MS - 1);
    expect((await takePendingLogin(store, 'early', browser)).ok).toBe(true);
    advance(1);
    expect(await takePendingLogin(store, 'late', browser)).toEqual({ ok: false, reason: 'unknown-state' });
  });

  it('tells whether the same browser has other sign-ins under way (other tabs), not counting other browsers', async () => {
    const { store } = setup();
    await savePendingLogin(store, 'tab-1', login, browser, 100);
    await savePendingLogin(store, 'tab-2', login, browser, 100);
    await savePendingLogin(store, 'elsewhere', login, other, 100);
    expect(await takePendingLogin(store, 'tab-1', browser)).toMatchObject({ ok: true, othersPending: true });
    expect(await takePendingLogin(store, 'tab-2', browser)).toMatchObject({ ok: true, othersPending: false });
  });

  it("one browser keeps at most MAX_PENDING_PER_BROWSER: its oldest goes, other browsers' stay", async () => {
    expect(MAX_PENDING_PER_BROWSER).toBe(10);
    const { store } = setup();
    await savePendingLogin(store, 'theirs', login, other, 100);
    for (let i = 0; i <= MAX_PENDING_PER_BROWSER; i++) await savePendingLogin(store, `mine-${i}`, login, browser, 100);
    expect(await takePendingLogin(store, 'mine-0', browser)).toEqual({ ok: false, reason: 'unknown-state' });
    expect((await takePendingLogin(store, 'mine-1', browser)).ok).toBe(true);
    expect((await takePendingLogin(store, `mine-${MAX_PENDING_PER_BROWSER}`, browser)).ok).toBe(true);
    expect((await takePendingLogin(store, 'theirs', other)).ok).toBe(true);
  });

  it('refuses beyond maxPending live sign-ins in the whole store, with the wait until the oldest expires', async () => {
    const { store, advance } = setup();
    await savePendingLogin(store, 'a', login, browser, 2);
    advance(100_000);
    await savePendingLogin(store, 'b', login, other, 2);
    advance(99_500);
    const refused = savePendingLogin(store, 'c', login, 'D'.repeat(43), 2);
    await expect(refused).rejects.toBeInstanceOf(LoginLimitError);
    await expect(refused).rejects.toMatchObject({
      code: 'GH_TOO_MANY_LOGINS',
      message: 'Too many sign-ins are in progress right now. Try again in a moment.',
      // The oldest was saved 199.5 s ago and lives 600 s.
      retryAfterSec: 401,
    });
    expect(await takePendingLogin(store, 'c', 'D'.repeat(43))).toEqual({ ok: false, reason: 'unknown-state' });
    // Taking one frees its place at once.
    expect((await takePendingLogin(store, 'a', browser)).ok).toBe(true);
    await savePendingLogin(store, 'c', login, 'D'.repeat(43), 2);
    expect((await takePendingLogin(store, 'c', 'D'.repeat(43))).ok).toBe(true);
  });

  it('still honours a sign-in started before pending values had their own space (an ephemeral value)', async () => {
    const { store } = setup();
    const legacy: PendingLogin = { ...login, binding: sha256(browser), createdAt: 1 };
    await store.put(`login:${sha256('old-state')}`, JSON.stringify(legacy), LOGIN_TTL_MS);
    expect(await takePendingLogin(store, 'old-state', browser)).toEqual({ ok: true, login: legacy, othersPending: false });
    expect(await takePendingLogin(store, 'old-state', browser)).toEqual({ ok: false, reason: 'unknown-state' });
    // A record whose binding is not a SHA-256 at all binds no browser (and throws nothing).
    await store.put(`login:${sha256('odd')}`, JSON.stringify({ ...legacy, binding: 'short' }), LOGIN_TTL_MS);
    expect(await takePendingLogin(store, 'odd', browser)).toEqual({ ok: false, reason: 'other-browser' });
  });

  it('still honours a sign-in stored when the return URL was called `rd`', async () => {
    const { store } = setup();
    const { returnUrl, ...rest } = login;
    const stored = { ...rest, rd: returnUrl, binding: sha256(browser), createdAt: 1 };
    await store.putPending(`login:${sha256('rd-state')}`, JSON.stringify(stored), LOGIN_TTL_MS, {
      max: 100,
      owner: stored.binding,
      perOwner: 10,
    });
    expect(await takePendingLogin(store, 'rd-state', browser)).toEqual({
      ok: true,
      login: { ...login, binding: sha256(browser), createdAt: 1 },
      othersPending: false,
    });
  });
});
