// The single-use values of `gatehouse login`, kept in the store's one-time values (every replica
// sees them) under the SHA-256 of the value, never the value itself:
//   - a code: handed to the loopback listener, redeemed once within CODE_TTL_MS, bound to the
//     browser session it came from, the PKCE challenge and the redirect_uri (RFC 6749 §4.1, 7636);
//   - a refresh token: redeemed once for a new user token and a new refresh token (rotation),
//     bound to the CLI session, living as long as that session may. A redeemed one is remembered:
//     presented again, it was copied, and its session is ended (OAuth 2.0 Security BCP §4.14.2).
import { createHash, randomBytes } from 'node:crypto';
import type { OneTimeStore } from '../../session/one-time.ts';
import { oneTimeName } from '../../session/one-time.ts';

export const CODE_TTL_MS = 60_000;

type Values = Pick<OneTimeStore, 'put' | 'take'>;

/** What a code stands for. */
export interface CodeGrant {
  /** Store key of the browser session that approved it. */
  readonly session: string;
  /** PKCE S256 code_challenge. */
  readonly challenge: string;
  readonly redirectUri: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
const mint = () => randomBytes(32).toString('base64url');

export async function issueCode(values: Values, grant: CodeGrant): Promise<string> {
  const code = mint();
  await values.put(oneTimeName('cli-code', digest(code)), JSON.stringify(grant), CODE_TTL_MS);
  return code;
}

/** The grant behind `code`, once; undefined when unknown, expired or already used. */
export async function redeemCode(values: Values, code: string): Promise<CodeGrant | undefined> {
  if (code.length === 0 || code.length > 128) return undefined;
  const raw = await values.take(oneTimeName('cli-code', digest(code)));
  return raw === undefined ? undefined : (JSON.parse(raw) as CodeGrant);
}

/** A refresh token for the CLI session `key`, valid for `ttlMs`. */
export async function issueRefresh(values: Values, key: string, ttlMs: number): Promise<string> {
  const token = `ghr_${mint()}`;
  await values.put(oneTimeName('cli-refresh', digest(token)), key, Math.max(1, ttlMs));
  return token;
}

/** A refresh token redeemed: its session's key, or the key of the session it was already used for. */
export type Redeemed = { readonly key: string } | { readonly reusedFor: string } | undefined;

/** The CLI session key behind a refresh token, once; a second use names the session as reused. */
export async function redeemRefresh(values: Values, token: string, ttlMs: number): Promise<Redeemed> {
  if (!token.startsWith('ghr_') || token.length > 128) return undefined;
  const id = digest(token);
  const key = await values.take(oneTimeName('cli-refresh', id));
  if (key !== undefined) {
    await values.put(oneTimeName('cli-refresh', 'used', id), key, ttlMs);
    return { key };
  }
  const reusedFor = await values.take(oneTimeName('cli-refresh', 'used', id));
  return reusedFor === undefined ? undefined : { reusedFor };
}

/** RFC 7636 S256: BASE64URL(SHA256(code_verifier)) === code_challenge. */
export function pkceMatches(verifier: string, challenge: string): boolean {
  return PKCE_VALUE.test(verifier) && digest(verifier) === challenge;
}

/** code_verifier / code_challenge syntax (RFC 7636 §4.1–4.2). */
export const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;
