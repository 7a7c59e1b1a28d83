// Authorization: Bearer <JWT> for scripts and SDKs (mlflow client, wandb, curl): a token from a
// configured IdP that lists `bearer_audiences`, checked with jose against that IdP's JWKS — issuer,
// audience, exp/nbf with the IdP's clock tolerance, asymmetric algorithms only (no "none", no
// HS* with a public key as secret). Claims map to an identity exactly like a sign-in. Verified
// tokens are remembered until they expire, so a busy client costs one signature check per token.
import { decodeJwt } from 'jose';
import { GatehouseError } from '../../errors.ts';
import type { Identity } from '../../identity/identity.ts';
import { mapClaims } from '../oidc/claims.ts';
import type { OidcClient } from '../oidc/client.ts';
import { NoJwksUriError } from '../oidc/jwks.ts';

export interface BearerIdentity extends Identity {
  readonly method: 'bearer';
}

export interface BearerVerifier {
  /** True when some IdP accepts bearer tokens at all. */
  readonly enabled: boolean;
  /** Throws GH_BAD_TOKEN (401) for anything but a valid token. */
  verify(token: string): Promise<BearerIdentity>;
}

const CACHE_MAX = 10_000;

export function createBearerVerifier(clients: Iterable<OidcClient>, now: () => number = Date.now): BearerVerifier {
  const accepting = [...clients].filter((c) => c.config.bearerAudiences !== undefined);
  const cache = new Map<string, { identity: BearerIdentity; expMs: number }>();
  const bad = (why: string, cause?: unknown) => new GatehouseError('GH_BAD_TOKEN', `The bearer token was refused: ${why}.`, { cause });

  return {
    enabled: accepting.length > 0,
    async verify(token) {
      const hit = cache.get(token);
      if (hit) {
        if (now() < hit.expMs) return hit.identity;
        cache.delete(token);
      }
      let iss: string | undefined;
      try {
        iss = decodeJwt(token).iss;
      } catch {
        throw bad('not a JWT');
      }
      const client = accepting.find((c) => {
        try {
          return c.configuration().serverMetadata().issuer === iss;
        } catch {
          return false;
        }
      });
      if (!client) throw bad('not issued by an identity provider that accepts bearer tokens');
      const metadata = client.configuration().serverMetadata();
      let payload;
      try {
        ({ payload } = await client.jwks.verify(token, {
          issuer: metadata.issuer,
          audience: [...client.config.bearerAudiences!],
          clockTolerance: client.config.clockToleranceSec,
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        if (err instanceof GatehouseError) throw err;
        if (err instanceof NoJwksUriError) throw bad('the identity provider publishes no keys');
        throw bad((err as { code?: string }).code ?? 'invalid', err);
      }
      const mapped = mapClaims(payload as Record<string, unknown>, client.config.claims, client.config.splitGroupValuesOn);
      // Client-credentials tokens often carry no e-mail: fall back to the subject as the user —
      // but not when the e-mail was withheld because the IdP marks it unverified.
      const unverified = payload.email_verified === false;
      const user = mapped.user ?? (unverified && client.config.claims.user === client.config.claims.email ? undefined : payload.sub);
      if (!user) throw bad(`no "${client.config.claims.user}" or "sub" claim`);
      const identity: BearerIdentity = { user, email: mapped.email, name: mapped.name, groups: mapped.groups ?? [], idp: client.config.id, method: 'bearer' };
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(token, { identity, expMs: payload.exp! * 1000 });
      return identity;
    },
  };
}
