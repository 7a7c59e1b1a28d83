// X-Gatehouse-Assertion: a short-lived JWT (ES256) with the verified identity, so an upstream can
// check who is calling with any JOSE library against /.gatehouse/jwks. Signing costs far more than
// the rest of the request path, so the caller (identity/headers.ts) keeps each token, per identity
// and route, until `renewAt`: shortly before it expires.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Identity } from './identity.ts';
import type { SigningKeys } from './keys.ts';

export interface SignedAssertion {
  readonly token: string;
  /** Epoch ms from which the token should be replaced (a fifth of its lifetime, at least 5 s, before it expires). */
  readonly renewAt: number;
}

export interface AssertionSigner {
  /** A freshly signed assertion; `groups` are the ones this route sends. */
  sign(identity: Identity, audience: string, groups: readonly string[]): Promise<SignedAssertion>;
  /** The clock `renewAt` is on. */
  now(): number;
}

export function createAssertionSigner(keys: SigningKeys, issuer: string, ttlMs: number, now: () => number = Date.now): AssertionSigner {
  const ttlSec = Math.floor(ttlMs / 1000);
  // Renew when less than a fifth of the lifetime is left, so no upstream gets a nearly dead token.
  const renewMarginMs = Math.max(5000, Math.floor(ttlMs / 5));

  return {
    now,
    async sign(identity, audience, groups) {
      const at = now();
      const iat = Math.floor(at / 1000);
      const token = await new SignJWT({
        email: identity.email,
        name: identity.name,
        groups: [...groups],
        idp: identity.idp,
      })
        .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(identity.user)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSec)
        .setJti(randomUUID())
        .sign(keys.signingKey);
      return { token, renewAt: at + ttlMs - renewMarginMs };
    },
  };
}
