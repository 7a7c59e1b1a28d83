// ID token signature check with jose against the IdP's JWKS (jwks.ts). openid-client validates the
// claims (iss, aud, azp, exp/iat, nonce); this adds the signature, with asymmetric algorithms only
// (no "none", no HS*). A token signed with a key we have not seen makes the JWKS be fetched again
// at once (jwks.ts says why only ID tokens may do that).
import { GatehouseError } from '../../errors.ts';
import { jwtRefusalReason } from '../refusal-reason.ts';
import { NoJwksUriError, type IdpJwks } from './jwks.ts';

export interface IdTokenKeys {
  readonly jwks: IdpJwks;
  /** The IdP's id, for messages. */
  readonly idp: string;
  readonly clockToleranceSec: number;
}

/** Throws GH_LOGIN_FAILED; a JWKS that could not be fetched is its `cause`. */
export async function verifyIdTokenSignature(idToken: string, keys: IdTokenKeys): Promise<void> {
  try {
    await keys.jwks.verify(idToken, { clockTolerance: keys.clockToleranceSec }, true);
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    if (err instanceof NoJwksUriError) {
      throw new GatehouseError(
        'GH_LOGIN_FAILED',
        `Sign-in with ${keys.idp} failed: the identity provider publishes no jwks_uri to check ID token signatures.`,
        { audit: { reason: 'no_jwks', idp: keys.idp } },
      );
    }
    throw new GatehouseError(
      'GH_LOGIN_FAILED',
      `Sign-in with ${keys.idp} failed: the ID token signature did not verify (${(err as { code?: string }).code ?? (err as Error).message}).`,
      { cause: err, audit: { reason: jwtRefusalReason(err, 'signature_invalid'), idp: keys.idp } },
    );
  }
}
