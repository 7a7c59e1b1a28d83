// Admin API bearer token check, in constant time so the token cannot be guessed byte by byte.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Secret } from '../config/secret.ts';

export function isAdminAuthorized(req: IncomingMessage, token: Secret | undefined): boolean {
  if (!token) return false;
  const header = req.headers.authorization;
  // The scheme is case-insensitive (RFC 9110 §11.1); the token after one space is compared whole.
  if (!header || !/^bearer /i.test(header)) return false;
  // Hash both sides so the comparison length never depends on the secret.
  const given = createHash('sha256').update(header.slice(7)).digest();
  const expected = createHash('sha256').update(token.value()).digest();
  return timingSafeEqual(given, expected);
}
