// IdP tokens (refresh, ID token) kept in the session record for refresh and logout, sealed with
// AES-256-GCM (seal.ts) under a key derived for this purpose only, with the session key as
// additional data: a record copied to another session key, or tampered with, opens to nothing.
import type { Secret } from '../config/secret.ts';
import { deriveKey } from './keys.ts';
import { open, seal } from './seal.ts';
import type { SessionRecord } from './store.ts';

export type IdpTokens = Readonly<Record<string, string>>;

export class TokenSealer {
  readonly #key: Buffer;

  constructor(secret: Secret) {
    this.#key = deriveKey(secret, 'token-seal');
  }

  /** The sealed form to keep in the record of session `key`. */
  seal(key: string, tokens: IdpTokens): string {
    return seal(this.#key, JSON.stringify(tokens), key);
  }

  /** The tokens of session `key`; undefined when there are none or the box does not open. */
  open(key: string, record: SessionRecord): Record<string, string> | undefined {
    if (!record.tokens) return undefined;
    const text = open(this.#key, record.tokens, key);
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, string>);
  }
}
