// User tokens: short-lived JWTs Gatehouse mints for `gatehouse login` (auth/cli/), signed ES256 with
// the assertion key published on /.gatehouse/jwks. A user token is only a pointer to a session: its
// `sid` names a session record of kind "cli" in the store, and every use looks that session up
// through the session manager (its local cache is dropped by revocation notifications from any
// replica), so idle and absolute timeouts, logout, back-channel logout and
// `DELETE /admin/users/<user>/sessions` end the token as they end a browser session. The JOSE
// `typ` keeps it apart from the assertion JWT (same key, same issuer): an assertion an upstream
// received cannot be replayed as a credential.
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import { GatehouseError, toGatehouseError } from '../../errors.ts';
import type { Exchange } from '../../http/exchange.ts';
import type { SigningKeys } from '../../identity/keys.ts';
import type { SessionRecord } from '../../identity/session-record.ts';
import type { SessionManager } from '../../session/manager.ts';

/** The JOSE header `typ` of a user token. */
export const USER_TOKEN_TYP = 'gatehouse-user+jwt';

/** Audit reason codes (docs/audit.md): the token itself is wrong, or its CLI session is over. */
const bad = (why: string, reason: 'user_token_invalid' | 'session_ended' = 'user_token_invalid') =>
  new GatehouseError('GH_BAD_TOKEN', `The bearer token was refused: ${why}.`, { audit: { reason } });

/** The audience of user tokens: this Gatehouse (its public URL), whichever host the CLI used. */
export function userTokenAudience(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.gatehouse/cli`;
}

/** True when `token` says it is a user token (cheap; verification is verifyUserToken's). */
export function isUserToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === USER_TOKEN_TYP;
  } catch {
    return false;
  }
}

/** A new user token for the CLI session `key`, living `ttlMs` (session.user_token_ttl); `expiresIn` in seconds. */
export async function mintUserToken(
  keys: SigningKeys,
  issuer: string,
  key: string,
  record: SessionRecord,
  ttlMs: number,
  nowMs: number = Date.now(),
): Promise<{ token: string; expiresIn: number }> {
  const iat = Math.floor(nowMs / 1000);
  // Never past the session's absolute end (its refresh token would outlive nothing).
  const ttl = Math.max(1, Math.min(Math.floor(ttlMs / 1000), Math.floor(record.absoluteExpiresAt / 1000) - iat));
  const token = await new SignJWT({ sid: key, idp: record.idp })
    .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ: USER_TOKEN_TYP })
    .setIssuer(issuer)
    .setAudience(userTokenAudience(issuer))
    .setSubject(record.user)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(randomUUID())
    .sign(keys.signingKey);
  return { token, expiresIn: ttl };
}

// One key set per published JWKS (reloads that keep the keys keep the object).
const keySets = new WeakMap<SigningKeys, JWTVerifyGetKey>();

/**
 * The CLI session behind a user token: signature (any published key), issuer, audience, typ and
 * exp checked, then the session looked up. Throws GH_BAD_TOKEN when any of that fails or the
 * session is over; GH_STORE_UNAVAILABLE when the store cannot say.
 */
export async function verifyUserToken(
  token: string,
  keys: SigningKeys,
  issuer: string,
  sessions: SessionManager,
): Promise<{ key: string; record: SessionRecord }> {
  let keySet = keySets.get(keys);
  if (!keySet) keySets.set(keys, (keySet = createLocalJWKSet({ keys: [...keys.jwks.keys] })));
  let sid: unknown;
  let sub: unknown;
  try {
    const { payload } = await jwtVerify(token, keySet, {
      issuer,
      audience: userTokenAudience(issuer),
      typ: USER_TOKEN_TYP,
      algorithms: ['ES256'],
      requiredClaims: ['exp', 'sid', 'sub'],
    });
    sid = payload.sid;
    sub = payload.sub;
  } catch (err) {
    const e = err as { code?: string; claim?: string };
    throw bad(`user token ${e.code ?? 'invalid'}${e.claim ? ` (${e.claim})` : ''}`);
  }
  if (typeof sid !== 'string') throw bad('user token without a session');
  const found = await sessions.resolve(sid);
  if (found.state !== 'active') throw bad(`its session has ${found.state === 'revoked' ? 'been revoked' : 'expired'}`, 'session_ended');
  if (found.record.kind !== 'cli' || found.record.user !== sub) throw bad('user token for another session');
  return { key: found.key, record: found.record };
}

/**
 * Identify stage for a user token: the CLI session becomes the exchange's session (its audit
 * record names it; live connections end with it). A refusal is returned, like other credentials'.
 */
export async function identifyUserToken(
  ex: Exchange,
  token: string,
  keys: SigningKeys,
  issuer: string,
  sessions: SessionManager,
): Promise<GatehouseError | undefined> {
  ex.browser = false;
  try {
    const session = await verifyUserToken(token, keys, issuer, sessions);
    ex.session = session;
    ex.identity = session.record;
    ex.userToken = true;
    return undefined;
  } catch (err) {
    return toGatehouseError(err);
  }
}
