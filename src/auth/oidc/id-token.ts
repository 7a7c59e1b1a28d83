// ID token signature check with jose against the IdP's JWKS. openid-client validates the claims
// (iss, aud, azp, exp/iat, nonce); this adds the signature, with asymmetric algorithms only (no
// "none", no HS*). A token signed with a key we have not seen makes the JWKS be fetched again at
// once: ID tokens only come from the IdP's own token endpoint, so nobody else can trigger it.
// (openid-client's own check waits 60 s before refetching, which breaks sign-ins right after an
// IdP key rotation.)
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { GatehouseError } from '../../errors.ts';
import type { OidcClient } from './client.ts';

export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export type IdTokenVerifier = (idToken: string) => Promise<void>;

export function createIdTokenVerifier(oidc: OidcClient): IdTokenVerifier {
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  return async (idToken) => {
    const metadata = oidc.configuration().serverMetadata();
    if (!metadata.jwks_uri) throw new GatehouseError('GH_LOGIN_FAILED', `Sign-in with ${oidc.config.id} failed: the identity provider publishes no jwks_uri to check ID token signatures.`);
    jwks ??= createRemoteJWKSet(new URL(metadata.jwks_uri), { cooldownDuration: 0, timeoutDuration: 10_000 });
    try {
      await jwtVerify(idToken, jwks, { algorithms: ASYMMETRIC_ALGS, clockTolerance: oidc.config.clockToleranceSec });
    } catch (err) {
      throw new GatehouseError('GH_LOGIN_FAILED', `Sign-in with ${oidc.config.id} failed: the ID token signature did not verify (${(err as { code?: string }).code ?? (err as Error).message}).`, { cause: err });
    }
  };
}
