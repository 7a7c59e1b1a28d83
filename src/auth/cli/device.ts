// `gatehouse login --device`: the device authorization grant (RFC 8628) relayed to an OIDC
// identity provider whose discovery document has a device_authorization_endpoint, with
// Gatehouse's own client credentials (the CLI never holds them).
//   POST /.gatehouse/cli/device[?idp=<id>]   → the IdP's answer (user_code, verification_uri …);
//                                               device_code prefixed with the IdP id ("<id>.<code>")
//   POST /.gatehouse/cli/token, grant_type=urn:ietf:params:oauth:grant-type:device_code
//                                             → one poll at the IdP; authorization_pending,
//                                               slow_down, expired_token, access_denied passed on;
//                                               on success the ID token (signature checked, claims
//                                               mapped like a sign-in) makes the CLI session (token.ts)
// Where no IdP offers it the answer is 400 unsupported_grant_type and the CLI falls back to the
// loopback sign-in.
import * as client from 'openid-client';
import { readBody } from '../../http/body.ts';
import type { Exchange } from '../../http/exchange.ts';
import { sendBody } from '../../http/respond.ts';
import type { NewSession } from '../../session/manager.ts';
import { mergeUserinfo, wantsUserinfo } from '../oidc/callback-checks.ts';
import { mapClaims } from '../oidc/claims.ts';
import type { OidcClient } from '../oidc/client.ts';
import { isIdpUnavailable } from '../oidc/errors.ts';
import { createLoginRateLimiter, type LoginRateLimiter } from '../login.ts';
import { DEVICE_GRANT, sendOAuthError, type OAuthError } from './token.ts';

/** The OIDC clients whose IdP offers the device flow, in config order. */
function deviceCapable(clients: Iterable<OidcClient>): OidcClient[] {
  return [...clients].filter((c) => {
    try {
      return typeof c.configuration().serverMetadata().device_authorization_endpoint === 'string';
    } catch {
      return false;
    }
  });
}

// Starting a device sign-in costs a call to the IdP and needs no credential: limited per client
// address like starting a browser sign-in (session.login.rate_per_minute), per runtime.
const limiters = new WeakMap<object, LoginRateLimiter>();

export async function handleCliDevice(ex: Exchange, clients: ReadonlyMap<string, OidcClient>, ratePerMinute: number): Promise<void> {
  ex.browser = false;
  if (ex.method !== 'POST') return sendOAuthError(ex, { error: 'invalid_request', description: 'Use POST.', status: 405 });
  await readBody(ex.req, 4096);
  let limiter = limiters.get(clients);
  if (!limiter) limiters.set(clients, (limiter = createLoginRateLimiter(ratePerMinute)));
  const waitMs = limiter.take(ex.client.ip, Date.now());
  if (waitMs > 0) {
    ex.res?.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
    return sendOAuthError(ex, {
      error: 'slow_down',
      description: 'too many device sign-ins from this address; wait a moment',
      status: 429,
    });
  }
  const wanted = new URLSearchParams(ex.query.slice(1)).get('idp');
  const c = deviceCapable(clients.values()).find((x) => wanted === null || x.config.id === wanted);
  if (!c) return sendOAuthError(ex, { error: 'unsupported_grant_type', description: 'no identity provider here offers the device flow' });
  let answer: client.DeviceAuthorizationResponse;
  try {
    answer = await client.initiateDeviceAuthorization(c.configuration(), { scope: c.config.scopes.join(' ') });
    c.noteOutcome(undefined);
  } catch (err) {
    return sendOAuthError(ex, relayError(c, err));
  }
  const body = {
    device_code: `${c.config.id}.${answer.device_code}`,
    user_code: answer.user_code,
    verification_uri: answer.verification_uri,
    ...(answer.verification_uri_complete ? { verification_uri_complete: answer.verification_uri_complete } : {}),
    expires_in: answer.expires_in,
    interval: answer.interval ?? 5,
  };
  sendBody(ex, 200, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

/** The device-code grant for token.ts: one poll at the IdP, then the identity it vouches for. */
export function createDeviceGrant(clients: ReadonlyMap<string, OidcClient>): (params: URLSearchParams) => Promise<NewSession | OAuthError> {
  return async (params) => {
    const raw = params.get('device_code') ?? '';
    const dot = raw.indexOf('.');
    const c = dot > 0 ? clients.get(raw.slice(0, dot)) : undefined;
    if (!c || !deviceCapable([c]).length) return { error: 'invalid_grant', description: 'unknown device_code' };
    const configuration = c.configuration();
    let tokens: Awaited<ReturnType<typeof client.genericGrantRequest>>;
    try {
      tokens = await client.genericGrantRequest(configuration, DEVICE_GRANT, { device_code: raw.slice(dot + 1) });
      await c.verifyIdToken(tokens.id_token ?? '');
    } catch (err) {
      return relayError(c, err);
    }
    const claims = tokens.claims();
    if (!claims) return { error: 'invalid_grant', description: 'the identity provider sent no ID token' };
    let mapped = mapClaims(claims, c.config.claims, c.config.splitGroupValuesOn);
    if (wantsUserinfo(c.config.userinfo, mapped, Boolean(configuration.serverMetadata().userinfo_endpoint))) {
      try {
        mapped = mergeUserinfo(mapped, await client.fetchUserInfo(configuration, tokens.access_token, claims.sub), c.config);
      } catch (err) {
        return relayError(c, err);
      }
    }
    if (mapped.user === undefined)
      return { error: 'invalid_grant', description: `the identity provider did not send the "${c.config.claims.user}" claim` };
    return {
      user: mapped.user,
      email: mapped.email,
      name: mapped.name,
      groups: mapped.groups ?? [],
      idp: c.config.id,
      method: 'oidc',
      subject: claims.sub,
      idpSession: typeof claims.sid === 'string' ? claims.sid : undefined,
    };
  };
}

/** The IdP's OAuth error passed on (authorization_pending, slow_down, …); unreachable: 503. */
function relayError(c: OidcClient, err: unknown): OAuthError {
  if (err instanceof client.ResponseBodyError) return { error: err.error, description: err.error_description ?? err.error };
  if (isIdpUnavailable(err)) {
    c.noteOutcome(err);
    return { error: 'temporarily_unavailable', description: `the identity provider ${c.config.id} cannot be reached`, status: 503 };
  }
  return { error: 'invalid_grant', description: `the identity provider ${c.config.id} refused the device sign-in` };
}
