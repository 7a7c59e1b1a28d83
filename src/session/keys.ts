// Keys derived from session.secret with HKDF, one per purpose, so the cookie MAC key and the
// token encryption key are never the same bytes.
import { hkdfSync } from 'node:crypto';
import type { Secret } from '../config/secret.ts';

export type KeyPurpose = 'cookie-mac' | 'token-seal' | 'csrf';

export function deriveKey(secret: Secret, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secret.value(), 'gatehouse', `gatehouse ${purpose} v1`, 32));
}
