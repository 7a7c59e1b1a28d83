import { describe, expect, it } from 'vitest';
import { createCookieCodec } from '../../src/session/cookie.ts';

const key = Buffer.alloc(32, 7);

describe('session cookie', () => {
  it('serializes __Host- cookies with HttpOnly, Secure, SameSite and Path=/ and no Domain', () => {
    const c = createCookieCodec({ name: '__Host-gatehouse', secure: true, sameSite: 'Lax', domain: undefined }, key);
    const { value } = c.mint();
    const set = c.serialize(value, 12 * 3600_000);
    expect(set).toBe(`__Host-gatehouse=${value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=43200`);
    expect(c.clear()).toBe('__Host-gatehouse=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0');
  });

  it('adds Domain for shared cookies and drops Secure only when configured (dev mode)', () => {
    const shared = createCookieCodec({ name: '__Secure-gatehouse', secure: true, sameSite: 'Strict', domain: 'corp.example' }, key);
    expect(shared.serialize('v', 1000)).toContain('; Domain=corp.example');
    const dev = createCookieCodec({ name: 'gatehouse', secure: false, sameSite: 'Lax', domain: undefined }, key);
    expect(dev.serialize('v', 1000)).not.toContain('Secure');
  });

  it('reads its own cookie only, wherever it sits in the header', () => {
    const c = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, key);
    expect(c.read('gh=abc')).toBe('abc');
    expect(c.read('_xsrf=1; gh=abc; mlflow=2')).toBe('abc');
    expect(c.read('xgh=evil; gh=abc')).toBe('abc');
    expect(c.read('a=gh=evil')).toBeUndefined();
    expect(c.read(undefined)).toBeUndefined();
    expect(c.read('other=1')).toBeUndefined();
  });

  it('verifies only values it minted', () => {
    const c = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, key);
    const { id, value } = c.mint();
    expect(c.verify(value)).toBe(id);
    expect(c.verify(`${id}.${'A'.repeat(22)}`)).toBeUndefined();
    const other = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, Buffer.alloc(32, 8));
    expect(other.verify(value)).toBeUndefined();
  });
});
