// The session cookie: `<id>.<mac>` where id is 256 random bits and mac an HMAC-SHA256 (128 bits
// kept) under a key derived from session.secret. The MAC lets a forged or stale-secret cookie be
// refused without a store lookup; the id itself never reaches the store, only its SHA-256 does.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CookieConfig } from '../config/types.ts';
import { cookieAttributes, cookieValues, serializeCookie } from '../http/cookies.ts';

export interface CookieCodec {
  readonly name: string;
  /** A fresh session id and its cookie value. */
  mint(): { id: string; value: string };
  /** The session id in a cookie value, or undefined when the MAC does not verify. */
  verify(value: string): string | undefined;
  /**
   * The one value of our cookie in a Cookie header to look up, or undefined. Several different
   * values (one planted by someone who can set cookies on a sibling host or path): the one whose
   * MAC verifies when exactly one does; none when several do, so that neither the victim's nor the
   * planted session is used; the first when none does (it is then cleared as invalid).
   */
  read(header: string | undefined): string | undefined;
  /** Set-Cookie value that stores `value` for `maxAgeMs`. */
  serialize(value: string, maxAgeMs: number): string;
  /** Set-Cookie value that deletes the cookie. */
  clear(): string;
}

const MAC_CHARS = 22; // 128 bits in base64url
const BASE64URL = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/;

/** Store key of a session id: SHA-256, so a store dump yields no usable cookie. */
export function sessionKey(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export function createCookieCodec(config: CookieConfig, macKey: Buffer): CookieCodec {
  const name = config.name;
  const attrs = cookieAttributes(config);
  const mac = (id: string) => createHmac('sha256', macKey).update(id).digest('base64url').slice(0, MAC_CHARS);
  const verify = (value: string): string | undefined => {
    const dot = value.indexOf('.');
    if (dot !== 43 || value.length !== 43 + 1 + MAC_CHARS || !BASE64URL.test(value)) return undefined;
    const id = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1));
    const expected = Buffer.from(mac(id));
    return timingSafeEqual(given, expected) ? id : undefined;
  };

  return {
    name,
    mint() {
      const id = randomBytes(32).toString('base64url');
      return { id, value: `${id}.${mac(id)}` };
    },
    verify,
    read(header) {
      const values = cookieValues(header, name);
      if (values.length <= 1) return values[0];
      const distinct = [...new Set(values)];
      if (distinct.length === 1) return distinct[0];
      const verified = distinct.filter((v) => verify(v) !== undefined);
      if (verified.length === 1) return verified[0];
      return verified.length === 0 ? distinct[0] : undefined;
    },
    serialize(value, maxAgeMs) {
      return serializeCookie(name, value, attrs, maxAgeMs);
    },
    clear() {
      return serializeCookie(name, '', attrs, 0);
    },
  };
}

// The Cookie header parser is http/cookies.ts; re-exported for the callers that read it from here.
export { cookieValues, parseCookieHeader, type CookiePair } from '../http/cookies.ts';

/**
 * Which cookie names are Gatehouse's, given the session cookie's name: that name and every
 * `<name>-*` (the login binding cookie), each with or without a `__Host-`/`__Secure-` prefix in
 * any case. The prefix variants carry live session ids after the cookie name changes (dev mode
 * drops the prefix; setting a domain turns `__Host-` into `__Secure-`), and browsers match the
 * prefixes case-insensitively (RFC 6265bis §5.6 step 21).
 */
export function gatehouseCookieNames(cookieName: string): (name: string) => boolean {
  const base = baseCookieName(cookieName);
  const family = `${base}-`;
  return (name) => {
    const n = withoutPrefix(name);
    return n === base || n.startsWith(family);
  };
}

/** The session cookie's name without its prefix: every Gatehouse cookie name contains it. */
export function baseCookieName(cookieName: string): string {
  return withoutPrefix(cookieName);
}

function withoutPrefix(name: string): string {
  // Cheap test first: cookie names rarely start with "__".
  if (name.charCodeAt(0) !== 95 || name.charCodeAt(1) !== 95) return name;
  const lower = name.slice(0, 9).toLowerCase();
  if (lower.startsWith('__host-')) return name.slice(7);
  if (lower === '__secure-') return name.slice(9);
  return name;
}
