// Anti-CSRF tokens for Gatehouse's own forms (the logout confirmation): an HMAC of the session key
// under a key derived for this purpose, so a token is valid for one session only and needs no
// storage. Compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../config/secret.ts';
import { deriveKey } from './keys.ts';

export class CsrfTokens {
  readonly #key: Buffer;

  constructor(secret: Secret) {
    this.#key = deriveKey(secret, 'csrf');
  }

  token(sessionKey: string): string {
    return createHmac('sha256', this.#key).update(sessionKey).digest('base64url');
  }

  verify(sessionKey: string, token: string): boolean {
    const expected = Buffer.from(this.token(sessionKey));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
