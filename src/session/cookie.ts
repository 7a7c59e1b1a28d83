// The session cookie: `<id>.<mac>` where id is 256 random bits and mac an HMAC-SHA256 (128 bits
// kept) under a key derived from session.secret. The MAC lets a forged or stale-secret cookie be
// refused without a store lookup; the id itself never reaches the store, only its SHA-256 does.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CookieConfig } from '../config/compile.ts';

export interface CookieCodec {
  readonly name: string;
  /** A fresh session id and its cookie value. */
  mint(): { id: string; value: string };
  /** The session id in a cookie value, or undefined when the MAC does not verify. */
  verify(value: string): string | undefined;
  /** Our cookie's value in a Cookie header, if present. */
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
  const needle = `${name}=`;
  const attrs = `; Path=/; HttpOnly${config.secure ? '; Secure' : ''}; SameSite=${config.sameSite}${config.domain ? `; Domain=${config.domain}` : ''}`;
  const mac = (id: string) => createHmac('sha256', macKey).update(id).digest('base64url').slice(0, MAC_CHARS);

  return {
    name,
    mint() {
      const id = randomBytes(32).toString('base64url');
      return { id, value: `${id}.${mac(id)}` };
    },
    verify(value) {
      const dot = value.indexOf('.');
      if (dot !== 43 || value.length !== 43 + 1 + MAC_CHARS || !BASE64URL.test(value)) return undefined;
      const id = value.slice(0, dot);
      const given = Buffer.from(value.slice(dot + 1));
      const expected = Buffer.from(mac(id));
      return timingSafeEqual(given, expected) ? id : undefined;
    },
    read(header) {
      if (!header) return undefined;
      let from = 0;
      // Find `name=` at the start of a cookie pair (not inside another cookie's name or value).
      for (;;) {
        const i = header.indexOf(needle, from);
        if (i === -1) return undefined;
        if (i === 0 || header[i - 1] === ' ' || header[i - 1] === ';') {
          const end = header.indexOf(';', i);
          return header.slice(i + needle.length, end === -1 ? undefined : end).trim();
        }
        from = i + 1;
      }
    },
    serialize(value, maxAgeMs) {
      return `${name}=${value}${attrs}; Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}`;
    },
    clear() {
      return `${name}=${attrs}; Max-Age=0`;
    },
  };
}
