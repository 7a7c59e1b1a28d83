// Opaque IdP access tokens (not JWTs, the default at many IdPs) checked at the IdP's RFC 7662
// introspection endpoint, found by discovery, with this client's own credentials (openid-client
// authenticates the call as it does at the token endpoint). Only IdPs that opt in with
// `introspection.enabled` are asked, in config order, until one says active: each one asked sees
// the token, so enable it only on IdPs you trust. An active answer counts only when it names this
// deployment: its `aud` or `client_id` is one of the IdP's `bearer_audiences` (a token the IdP
// issued to another application is not a credential here), its iss (if given) is the IdP's, and
// exp/nbf hold with the IdP's clock tolerance. Caching is the verifier's (verify.ts).
import * as client from 'openid-client';
import { GatehouseError } from '../../errors.ts';
import type { OidcClient } from '../oidc/client.ts';
import { IdpUnavailableError, isIdpUnavailable } from '../oidc/errors.ts';

/** What an IdP vouched for about a token: its claims and when it ends (epoch ms; undefined: not said). */
export interface IntrospectedToken {
  readonly client: OidcClient;
  readonly claims: Record<string, unknown>;
  readonly expMs: number | undefined;
}

/** The first IdP that knows `token` as an active token for this deployment; throws GH_BAD_TOKEN when none does. */
export async function introspectToken(clients: readonly OidcClient[], token: string, nowMs: number): Promise<IntrospectedToken> {
  let why = 'not a JWT, and no identity provider knows it as an active token';
  let reason = 'inactive';
  let idp: string | undefined;
  for (const c of clients) {
    const answer = await ask(c, token);
    if (answer.active !== true) continue;
    const refused = refusal(c, answer, nowMs);
    if (refused !== undefined) {
      why = refused;
      reason = INTROSPECTION_REASONS[refused] ?? 'token_invalid';
      idp = c.config.id;
      continue;
    }
    return { client: c, claims: answer, expMs: typeof answer.exp === 'number' ? answer.exp * 1000 : undefined };
  }
  throw new GatehouseError('GH_BAD_TOKEN', `The bearer token was refused: ${why}.`, { audit: { reason, idp } });
}

async function ask(c: OidcClient, token: string): Promise<client.IntrospectionResponse> {
  const configuration = c.configuration();
  try {
    const answer = await client.tokenIntrospection(configuration, token, { token_type_hint: 'access_token' });
    c.noteOutcome(undefined);
    return answer;
  } catch (err) {
    if (isIdpUnavailable(err)) {
      c.noteOutcome(err);
      throw new IdpUnavailableError(`The identity provider ${c.config.id} could not check the bearer token; try again shortly.`, {
        cause: err,
      });
    }
    // The IdP refused Gatehouse itself (client credentials, no endpoint): not the caller's fault,
    // and not a reason to accept. Reported as unavailable so the operator sees it in the logs.
    throw new IdpUnavailableError(`The identity provider ${c.config.id} refused to introspect the bearer token.`, { cause: err });
  }
}

/** The audit reason code of each refusal() text (docs/audit.md). */
const INTROSPECTION_REASONS: Readonly<Record<string, string>> = {
  'introspection named another issuer': 'issuer_mismatch',
  'a refresh token is not a bearer credential': 'wrong_token_type',
  expired: 'expired',
  'not yet valid': 'not_yet_valid',
  'issued for another application (aud/client_id not in bearer_audiences)': 'audience_mismatch',
};

/** Why an active answer does not count here; undefined when it does. */
function refusal(c: OidcClient, a: client.IntrospectionResponse, nowMs: number): string | undefined {
  const issuer = c.configuration().serverMetadata().issuer;
  if (a.iss !== undefined && a.iss !== issuer) return 'introspection named another issuer';
  if (a.token_type !== undefined && a.token_type.toLowerCase() === 'refresh_token') return 'a refresh token is not a bearer credential';
  const tolerance = c.config.clockToleranceSec;
  const now = nowMs / 1000;
  if (typeof a.exp === 'number' && a.exp + tolerance <= now) return 'expired';
  if (typeof a.nbf === 'number' && a.nbf - tolerance > now) return 'not yet valid';
  const audiences = c.config.bearerAudiences ?? [];
  const aud = a.aud === undefined ? [] : Array.isArray(a.aud) ? a.aud : [a.aud];
  const forUs = aud.some((x) => audiences.includes(x)) || (a.client_id !== undefined && audiences.includes(a.client_id));
  return forUs ? undefined : 'issued for another application (aud/client_id not in bearer_audiences)';
}
