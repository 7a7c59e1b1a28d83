// Bearer tokens for scripts and SDKs (mlflow client, wandb, curl), from a configured IdP that lists
// `bearer_audiences`. A JWT is checked with jose against that IdP's JWKS — issuer, audience,
// exp/nbf with the IdP's clock tolerance, asymmetric algorithms only (no "none", no HS* with a
// public key as secret). A token that is not a JWT is asked about at the IdPs that enable
// `introspection` (introspect.ts). Either way claims map to an identity exactly like a sign-in,
// completed from userinfo where the IdP enables `bearer_userinfo` (userinfo.ts). Verified tokens
// are remembered (keyed by their SHA-256, never the token itself) until they expire, and no longer
// than the introspection / userinfo cache_ttl when those were asked, so a busy client costs one
// check per token and period (concurrent requests with one new token share it). Opaque tokens no
// IdP knows are remembered as refused as long.
import { createHash } from 'node:crypto';
import { decodeJwt, type JWTPayload } from 'jose';
import { GatehouseError, type AuditDetail } from '../../errors.ts';
import { jwtRefusalReason, verifiedSubject } from '../refusal-reason.ts';
import type { Identity } from '../../identity/identity.ts';
import { mapClaims } from '../oidc/claims.ts';
import type { OidcClient } from '../oidc/client.ts';
import { NoJwksUriError } from '../oidc/jwks.ts';
import { introspectToken } from './introspect.ts';
import { asServiceAccount } from './service-account.ts';
import { withUserinfo } from './userinfo.ts';

export interface BearerIdentity extends Identity {
  readonly method: 'bearer';
  /** The IdP's id for the caller (`sub`), for the audit record's user.id. */
  readonly subject: string | undefined;
  /** Which kind of bearer credential it was (the audit record's gatehouse.credential_kind). */
  readonly credential: 'bearer_jwt' | 'bearer_opaque';
}

export interface BearerVerifier {
  /** True when some IdP accepts bearer tokens at all. */
  readonly enabled: boolean;
  /** Throws GH_BAD_TOKEN (401) for anything but a valid token; GH_IDP_UNAVAILABLE when the IdP could not be asked. */
  verify(token: string): Promise<BearerIdentity>;
}

/** Bound on each cache (verified identities, refused opaque tokens); the oldest entry goes first. */
const CACHE_MAX = 10_000;

/** What one check established: who vouched, the claims, until when (epoch ms). */
interface Checked {
  readonly client: OidcClient;
  readonly claims: Record<string, unknown>;
  readonly expMs: number | undefined;
  /** Asked at the introspection endpoint (its answer ages: introspection.cache_ttl). */
  readonly introspected: boolean;
}

const bad = (why: string, audit: AuditDetail, cause?: unknown) =>
  new GatehouseError('GH_BAD_TOKEN', `The bearer token was refused: ${why}.`, { cause, audit });

export function createBearerVerifier(clients: Iterable<OidcClient>, now: () => number = Date.now): BearerVerifier {
  const accepting = [...clients].filter((c) => c.config.bearerAudiences !== undefined);
  const introspecting = accepting.filter((c) => c.config.introspection !== undefined);
  const cache = new Map<string, { identity: BearerIdentity; untilMs: number }>();
  const refused = new Map<string, number>();
  const remember = <V>(m: Map<string, V>, key: string, v: V) => {
    if (m.size >= CACHE_MAX) m.delete(m.keys().next().value as string);
    m.set(key, v);
  };

  // Requests that arrive together with the same new token share one check (one call to the IdP).
  const inFlight = new Map<string, Promise<BearerIdentity>>();

  /** The full check of a token not in the cache; remembers the outcome. */
  async function check(token: string, key: string): Promise<BearerIdentity> {
    let payload: JWTPayload | undefined;
    try {
      payload = decodeJwt(token);
    } catch {
      if (introspecting.length === 0) throw bad('not a JWT', { reason: 'not_jwt' });
    }
    let checked: Checked;
    if (payload) checked = await checkJwt(accepting, token, payload.iss);
    else {
      const until = refused.get(key);
      if (until !== undefined && now() < until)
        throw bad('not a JWT, and no identity provider knows it as an active token', { reason: 'inactive' });
      try {
        checked = { ...(await introspectToken(introspecting, token, now())), introspected: true };
      } catch (err) {
        const ttl = Math.min(...introspecting.map((c) => c.config.introspection?.cacheTtlMs ?? 0));
        if (err instanceof GatehouseError && err.code === 'GH_BAD_TOKEN') remember(refused, key, now() + ttl);
        throw err;
      }
    }
    const identity = await toIdentity(checked, token);
    remember(cache, key, { identity, untilMs: keepUntil(checked, now()) });
    return identity;
  }

  return {
    enabled: accepting.length > 0,
    verify(token) {
      const key = createHash('sha256').update(token).digest('base64url');
      const hit = cache.get(key);
      if (hit) {
        if (now() < hit.untilMs) return Promise.resolve(hit.identity);
        cache.delete(key);
      }
      let pending = inFlight.get(key);
      if (!pending) {
        pending = check(token, key).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },
  };
}

/** A JWT from an accepting IdP, signature and claims checked; throws GH_BAD_TOKEN otherwise. */
async function checkJwt(accepting: readonly OidcClient[], token: string, iss: string | undefined): Promise<Checked> {
  const client = accepting.find((c) => {
    try {
      return c.configuration().serverMetadata().issuer === iss;
    } catch {
      return false;
    }
  });
  if (!client) throw bad('not issued by an identity provider that accepts bearer tokens', { reason: 'unknown_issuer' });
  const metadata = client.configuration().serverMetadata();
  try {
    const { payload } = await client.jwks.verify(token, {
      issuer: metadata.issuer,
      audience: [...(client.config.bearerAudiences ?? [])],
      clockTolerance: client.config.clockToleranceSec,
      requiredClaims: ['exp'],
    });
    return { client, claims: payload as Record<string, unknown>, expMs: (payload.exp as number) * 1000, introspected: false };
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    if (err instanceof NoJwksUriError) throw bad('the identity provider publishes no keys', { reason: 'no_jwks', idp: client.config.id });
    const sub = verifiedSubject(err);
    const reason = jwtRefusalReason(err, 'token_invalid');
    throw bad((err as { code?: string }).code ?? 'invalid', { reason, idp: client.config.id, user: sub, subject: sub }, err);
  }
}

/** The claims as an identity, completed from userinfo when the IdP asks for that. */
async function toIdentity({ client, claims, introspected }: Checked, token: string): Promise<BearerIdentity> {
  const cfg = client.config;
  const mapped = asServiceAccount(
    cfg,
    claims,
    await withUserinfo(client, token, claims.sub, mapClaims(claims, cfg.claims, cfg.splitGroupValuesOn)),
  );
  // Client-credentials tokens often carry no e-mail: fall back to the subject as the user —
  // but not when the e-mail was withheld because the IdP marks it unverified.
  const unverified = claims.email_verified === false;
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
  const user = mapped.user ?? (unverified && cfg.claims.user === cfg.claims.email ? undefined : sub);
  if (!user) throw bad(`no "${cfg.claims.user}" or "sub" claim`, { reason: 'claim_missing', idp: cfg.id });
  return {
    user,
    email: mapped.email,
    name: mapped.name,
    groups: mapped.groups ?? [],
    idp: cfg.id,
    method: 'bearer',
    subject: sub,
    credential: introspected ? 'bearer_opaque' : 'bearer_jwt',
  };
}

/** When a verified token must be checked again: its exp, and sooner where introspection or userinfo answered. */
function keepUntil({ client, expMs, introspected }: Checked, nowMs: number): number {
  const ttls = [client.config.bearerUserinfo?.cacheTtlMs];
  // A JWT's check is local: only an introspected token's answer ages.
  if (introspected) ttls.push(client.config.introspection?.cacheTtlMs);
  let until = expMs ?? Number.POSITIVE_INFINITY;
  for (const t of ttls) if (t !== undefined) until = Math.min(until, nowMs + t);
  // Neither exp nor a cache TTL: check again next time.
  return Number.isFinite(until) ? until : nowMs;
}
