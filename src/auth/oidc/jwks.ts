// The one cache of an IdP's signing keys (its JWKS), shared by everything that checks a JWT from
// that IdP: ID tokens (sign-in and refresh), back-channel logout tokens and bearer tokens. One
// cache means one fetch policy and one list of accepted algorithms; when one path learns of a new
// key, the others see it too.
//
// Fetch policy: a token naming a key we do not have makes the JWKS be fetched again, at most once
// per cooldown (so tokens anyone can send — bearer, logout — cannot make Gatehouse hammer the IdP).
// ID tokens are the exception: they only come from the IdP's own token endpoint, so nobody else can
// trigger a fetch with them, and they ask again at once (otherwise sign-ins right after an IdP key
// rotation would fail for the cooldown; openid-client's own check waits 60 s).
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions, type JWTVerifyResult } from 'jose';
import { ASYMMETRIC_ALGS } from '../../config/algorithms.ts';

/** How long a JWKS fetch may take. */
export const JWKS_TIMEOUT_MS = 10_000;
/** After a fetch, a token with an unknown key waits this long before it may cause another (jose's default). */
export const JWKS_COOLDOWN_MS = 30_000;

/** What verify() refuses when the IdP publishes no jwks_uri (the caller words its own error). */
export class NoJwksUriError extends Error {
  constructor() {
    super('the identity provider publishes no jwks_uri');
    this.name = 'NoJwksUriError';
  }
}

export interface IdpJwks {
  /**
   * Verify a JWT's signature (asymmetric algorithms only) and the claims `options` name. `promptRefetch`:
   * an unknown key fetches the JWKS again even within the cooldown (ID tokens only). Throws jose's
   * errors, NoJwksUriError, or whatever looking up the jwks_uri throws (IdP not discovered yet).
   */
  verify(token: string, options?: Omit<JWTVerifyOptions, 'algorithms'>, promptRefetch?: boolean): Promise<JWTVerifyResult>;
}

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;

/**
 * `jwksUri` is read when a token is first checked (discovery may not have finished when the cache
 * is made); the key set is built once from the first answer.
 */
export function createIdpJwks(jwksUri: () => string | undefined): IdpJwks {
  let remote: RemoteJwks | undefined;
  const keySet = (): RemoteJwks => {
    if (remote) return remote;
    const uri = jwksUri();
    if (!uri) throw new NoJwksUriError();
    return (remote = createRemoteJWKSet(new URL(uri), { cooldownDuration: JWKS_COOLDOWN_MS, timeoutDuration: JWKS_TIMEOUT_MS }));
  };
  return {
    async verify(token, options = {}, promptRefetch = false) {
      const set = keySet();
      return jwtVerify(token, promptRefetch ? refetchingUnknownKeys(set) : set, { ...options, algorithms: [...ASYMMETRIC_ALGS] });
    },
  };
}

/**
 * The key set, but an unknown key within the cooldown fetches the JWKS once more. When jose fetched
 * on its own (the cooldown had passed), it is not fetched twice.
 */
function refetchingUnknownKeys(set: RemoteJwks): JWTVerifyGetKey {
  return async (header, token) => {
    const wasCoolingDown = set.coolingDown;
    try {
      return await set(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !wasCoolingDown) throw err;
      await set.reload();
      return set(header, token);
    }
  };
}

/**
 * Why jose refused a token, in words fit for an error page and an audit record: from its error
 * code and the claim it names (from its own fixed vocabulary), never its message text.
 */
export function jwtRefusalReason(err: unknown): string {
  const e = err as { code?: unknown; claim?: unknown; reason?: unknown };
  const claim = typeof e.claim === 'string' && /^[A-Za-z_]{1,32}$/.test(e.claim) && e.claim !== 'unspecified' ? e.claim : undefined;
  switch (e.code) {
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claim ? `the "${claim}" claim is ${e.reason === 'missing' ? 'missing' : 'not valid'}` : 'a claim is not valid';
    case 'ERR_JWT_EXPIRED':
      return 'the token has expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'the signature did not verify';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'the signing algorithm is not accepted';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'it is not signed with a key the identity provider publishes';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return 'it is not a well-formed signed JWT';
    default:
      return typeof e.code === 'string' && /^ERR_[A-Z_]{1,64}$/.test(e.code) ? `it was refused (${e.code})` : 'it could not be verified';
  }
}
