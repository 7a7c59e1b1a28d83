// X-Gatehouse-Assertion: a short-lived JWT (ES256) with the verified identity, so an upstream can
// check who is calling with any JOSE library against /.gatehouse/jwks. Signing costs far more than
// the rest of the request path, so a token is reused per identity and route until shortly before
// it expires.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Identity } from './identity.ts';
import type { SigningKeys } from './keys.ts';

export interface AssertionSigner {
  /** A cached or fresh assertion; `groups` are the ones this route sends. */
  assertionFor(identity: Identity, audience: string, groups: readonly string[]): Promise<string>;
}

interface Cached {
  readonly token: string;
  readonly renewAt: number;
}

export function createAssertionSigner(keys: SigningKeys, issuer: string, ttlMs: number, now: () => number = Date.now): AssertionSigner {
  // Per identity object (session records are reused while cached), per audience and group list.
  const cache = new WeakMap<Identity, Map<string, Cached>>();
  const ttlSec = Math.floor(ttlMs / 1000);
  // Renew when less than a fifth of the lifetime is left, so no upstream gets a nearly dead token.
  const renewMarginMs = Math.max(5000, Math.floor(ttlMs / 5));

  return {
    async assertionFor(identity, audience, groups) {
      const at = now();
      let perAudience = cache.get(identity);
      // Routes sharing an upstream may send different groups (send_groups: policy).
      const slot = `${audience}\n${JSON.stringify(groups)}`;
      const hit = perAudience?.get(slot);
      if (hit && at < hit.renewAt) return hit.token;
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
      if (!perAudience) cache.set(identity, (perAudience = new Map()));
      perAudience.set(slot, { token, renewAt: at + ttlMs - renewMarginMs });
      return token;
    },
  };
}
