import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  baseCookieName,
  cookieValues,
  createCookieCodec,
  gatehouseCookieNames,
  parseCookieHeader,
  sessionKey,
} from '../../src/session/cookie.ts';

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
    expect(dev.serialize('v', 1000)).toBe('gatehouse=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=1');
    expect(dev.clear()).toBe('gatehouse=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    expect(shared.clear()).toBe('__Secure-gatehouse=; Path=/; HttpOnly; Secure; SameSite=Strict; Domain=corp.example; Max-Age=0');
  });

  it('stores a session under the SHA-256 of its id, never the id', () => {
    expect(sessionKey('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    const { id } = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, key).mint();
    expect(sessionKey(id)).not.toContain(id);
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

  it('takes the one value that verifies when a name is sent twice, and none when two do', () => {
    const c = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, key);
    const a = c.mint().value;
    const b = c.mint().value;
    const forged = `${a.slice(0, 44)}${'A'.repeat(22)}`;
    expect(c.read(`gh=${forged}; gh=${a}`)).toBe(a);
    expect(c.read(`gh=${a}; gh=junk`)).toBe(a);
    expect(c.read(`gh=${a}; gh=${b}`)).toBeUndefined();
    expect(c.read(`gh=${b}; gh=${a}`)).toBeUndefined();
    expect(c.read(`gh=${a}; x=1; gh=${a}`)).toBe(a);
    // None verifies: the first goes on to be refused (and cleared) as invalid.
    expect(c.read(`gh=${forged}; gh=junk`)).toBe(forged);
    // Only whole pairs count: a value holding our name is another cookie's.
    expect(c.read(`x=1 gh=${b}; gh=${a}`)).toBe(a);
    expect(c.read(`x="1 gh=${b}"`)).toBeUndefined();
  });

  it('verifies only values it minted', () => {
    const c = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, key);
    const { id, value } = c.mint();
    expect(c.verify(value)).toBe(id);
    expect(c.verify(`${id}.${'A'.repeat(22)}`)).toBeUndefined();
    const other = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, Buffer.alloc(32, 8));
    expect(other.verify(value)).toBeUndefined();
  });

  it('refuses a value of the wrong shape without throwing, even one whose MAC is right', () => {
    const c = createCookieCodec({ name: 'gh', secure: true, sameSite: 'Lax', domain: undefined }, key);
    const { id, value } = c.mint();
    for (const bad of ['', 'abc', id, `${id}.`, `${value}A`, value.slice(0, -1), `.${value.slice(1)}`, `${id}.${'A'.repeat(23)}`]) {
      expect(c.verify(bad), bad).toBeUndefined();
    }
    // The MAC as the codec computes it (HMAC-SHA256 under the key, 128 bits in base64url): a
    // correctly signed id outside the base64url alphabet is still not a session id.
    const sign = (i: string) => `${i}.${createHmac('sha256', key).update(i).digest('base64url').slice(0, 22)}`;
    expect(c.verify(sign(id))).toBe(id);
    for (const odd of [`${'A'.repeat(42)}+`, `${'A'.repeat(42)}/`, `${'A'.repeat(42)}=`, `${'A'.repeat(42)} `, `${'A'.repeat(42)}\u00e9`]) {
      expect(c.verify(sign(odd)), odd).toBeUndefined();
    }
  });
});

describe('Cookie header parsing', () => {
  it('splits on ";" only, trims SP and HTAB but no other whitespace, and keeps quotes and "$" names as bytes', () => {
    expect(parseCookieHeader(' a=1;b = 2 ;\tc=\t3;;  ;d')).toEqual([
      { text: 'a=1', name: 'a', value: '1' },
      { text: 'b = 2', name: 'b', value: '2' },
      { text: 'c=\t3', name: 'c', value: '3' },
      { text: 'd', name: undefined, value: 'd' },
    ]);
    expect(parseCookieHeader('$Version=1; a="x; b=y"')).toEqual([
      { text: '$Version=1', name: '$Version', value: '1' },
      { text: 'a="x', name: 'a', value: '"x' },
      { text: 'b=y"', name: 'b', value: 'y"' },
    ]);
    // U+00A0 (latin1 byte A0) is part of the name: a cookie a sibling host could set.
    expect(parseCookieHeader('\u00a0gh=1')[0]!.name).toBe('\u00a0gh');
    expect(parseCookieHeader('=gh=1')).toEqual([{ text: '=gh=1', name: '', value: 'gh=1' }]);
  });

  it('trims runs of blanks around pairs and around "=", and keeps blanks inside a name or value', () => {
    expect(parseCookieHeader('  \t a=1 \t  ;b \t =  \tx y ;c d=1 2')).toEqual([
      { text: 'a=1', name: 'a', value: '1' },
      { text: 'b \t =  \tx y', name: 'b', value: 'x y' },
      { text: 'c d=1 2', name: 'c d', value: '1 2' },
    ]);
    expect(cookieValues('gh  =  v w;  gh=2  ', 'gh')).toEqual(['v w', '2']);
  });

  it('finds every value of exactly one name', () => {
    expect(cookieValues('gh=1; x=gh=2; gh =3; GH=4; xgh=5; gh=6', 'gh')).toEqual(['1', '3', '6']);
    expect(cookieValues(undefined, 'gh')).toEqual([]);
    expect(cookieValues('other=1', 'gh')).toEqual([]);
  });

  it('knows the names of Gatehouse cookies: the session name and <name>-*, with any prefix in any case', () => {
    const owns = gatehouseCookieNames('__Host-gatehouse');
    for (const n of [
      '__Host-gatehouse',
      'gatehouse',
      '__Secure-gatehouse',
      '__HOST-gatehouse',
      '__secure-gatehouse',
      '__Host-gatehouse-login',
      'gatehouse-login',
      '__SeCuRe-gatehouse-x',
    ]) {
      expect(owns(n), n).toBe(true);
    }
    for (const n of [
      'gatehousex',
      '__Host-gatehousex',
      'my-gatehouse',
      'app_gatehouse',
      'GATEHOUSE',
      '__Host-__Host-gatehouse',
      '__Hostgatehouse',
      '_gatehouse',
      '',
    ]) {
      expect(owns(n), n).toBe(false);
    }
    expect(gatehouseCookieNames('gatehouse')('__Host-gatehouse-login')).toBe(true);
    // Only the two prefixes browsers know are taken off: another 9-byte "__...-" is part of the name.
    expect(owns('__Prefix-gatehouse')).toBe(false);
    expect(owns('__Prefix-gatehouse-login')).toBe(false);
    expect(owns('__hosts-gatehouse')).toBe(false);
  });

  it('names the base cookie without its prefix', () => {
    expect(baseCookieName('__Host-gatehouse')).toBe('gatehouse');
    expect(baseCookieName('__SECURE-gatehouse')).toBe('gatehouse');
    expect(baseCookieName('gatehouse')).toBe('gatehouse');
    expect(baseCookieName('__Prefix-gatehouse')).toBe('__Prefix-gatehouse');
    expect(baseCookieName('_-Host-gatehouse')).toBe('_-Host-gatehouse');
  });
});
