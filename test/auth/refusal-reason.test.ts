// The audit reason code of a refused JWT, from jose's errors (bearer tokens, ID token signatures)
// and openid-client's claim checks; the attempted user only from a payload whose signature verified.
import { errors, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwtRefusalReason, verifiedSubject } from '../../src/auth/refusal-reason.ts';

async function refusal(claims: { aud?: string; exp?: number; iss?: string }, verifyWith?: CryptoKey): Promise<unknown> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setSubject('svc-1')
    .setIssuer(claims.iss ?? 'https://idp')
    .setAudience(claims.aud ?? 'api')
    .setExpirationTime(claims.exp ?? now + 60)
    .sign(privateKey);
  return jwtVerify(jwt, verifyWith ?? publicKey, { issuer: 'https://idp', audience: 'api' }).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('jwtRefusalReason and verifiedSubject', () => {
  it('expired, audience and issuer: the code, and the verified subject', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const [claims, code] of [
      [{ exp: now - 3600 }, 'expired'],
      [{ aud: 'other' }, 'audience_mismatch'],
      [{ iss: 'https://evil' }, 'issuer_mismatch'],
    ] as const) {
      const err = await refusal(claims);
      expect(jwtRefusalReason(err, 'token_invalid'), code).toBe(code);
      expect(verifiedSubject(err), code).toBe('svc-1');
    }
  });

  it('a bad signature: signature_invalid, and no user (its payload is not verified)', async () => {
    const other = await generateKeyPair('ES256');
    const err = await refusal({}, other.publicKey);
    expect(err).toBeInstanceOf(errors.JWSSignatureVerificationFailed);
    expect(jwtRefusalReason(err, 'token_invalid')).toBe('signature_invalid');
    expect(verifiedSubject(err)).toBeUndefined();
  });

  it("openid-client's claim checks name the claim; anything else is the fallback", () => {
    expect(jwtRefusalReason({ code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', cause: { claim: 'nonce' } }, 'x')).toBe('nonce_mismatch');
    expect(jwtRefusalReason({ code: 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', cause: { claim: 'exp' } }, 'x')).toBe('expired');
    expect(jwtRefusalReason({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'exp', reason: 'missing' }, 'x')).toBe('claim_missing');
    expect(jwtRefusalReason(new Error('what'), 'id_token_invalid')).toBe('id_token_invalid');
    expect(jwtRefusalReason(undefined, 'id_token_invalid')).toBe('id_token_invalid');
  });
});
