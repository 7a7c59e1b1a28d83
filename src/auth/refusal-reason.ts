// The audit reason code of a refused JWT (ID token, bearer token): one word per kind of refusal,
// from jose's error codes and openid-client's (oauth4webapi) claim checks. The codes are listed in
// docs/audit.md; a SIEM rule matches on them, never on message text.

/** Claim → reason when a claim check failed. */
const CLAIM_REASONS: Readonly<Record<string, string>> = {
  aud: 'audience_mismatch',
  azp: 'audience_mismatch',
  iss: 'issuer_mismatch',
  nonce: 'nonce_mismatch',
  exp: 'expired',
  nbf: 'not_yet_valid',
  iat: 'too_old',
  auth_time: 'too_old',
  c_hash: 'hash_mismatch',
  s_hash: 'hash_mismatch',
};

const CODE_REASONS: Readonly<Record<string, string>> = {
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature_invalid',
  ERR_JWT_EXPIRED: 'expired',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'unknown_key',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm_not_allowed',
  ERR_JOSE_NOT_SUPPORTED: 'algorithm_not_allowed',
  ERR_JWS_INVALID: 'malformed',
  ERR_JWT_INVALID: 'malformed',
};

/** The reason code for `err`, or `fallback` when it is none of the kinds above. */
export function jwtRefusalReason(err: unknown, fallback: string): string {
  if (err === null || typeof err !== 'object') return fallback;
  const e = err as { code?: unknown; claim?: unknown; reason?: unknown; cause?: { claim?: unknown } };
  // jose: a claim that is required and absent.
  if (e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && e.reason === 'missing') return 'claim_missing';
  const claim = typeof e.claim === 'string' ? e.claim : typeof e.cause?.claim === 'string' ? e.cause.claim : undefined;
  if (claim !== undefined && CLAIM_REASONS[claim] !== undefined) return CLAIM_REASONS[claim]!;
  return (typeof e.code === 'string' && CODE_REASONS[e.code]) || fallback;
}

/**
 * The subject of a token whose signature verified but whose claims did not pass (jose keeps the
 * verified payload on its claim errors); undefined for anything else: unverified text is not a user.
 */
export function verifiedSubject(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; payload?: { sub?: unknown } };
  if (e.code !== 'ERR_JWT_EXPIRED' && e.code !== 'ERR_JWT_CLAIM_VALIDATION_FAILED') return undefined;
  const sub = e.payload?.sub;
  return typeof sub === 'string' && sub.length <= 256 ? sub : undefined;
}
