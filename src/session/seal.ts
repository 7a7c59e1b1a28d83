// AES-256-GCM for IdP tokens kept in the session record (refresh and logout need them), so a
// Redis dump does not hand out refresh tokens. Format: base64url(iv[12] | ciphertext | tag[16]).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url');
}

/** Undefined when the box was tampered with, sealed for another session, or under another key. */
export function open(key: Buffer, box: string, aad: string): string | undefined {
  try {
    const raw = Buffer.from(box, 'base64url');
    if (raw.length < 28) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
