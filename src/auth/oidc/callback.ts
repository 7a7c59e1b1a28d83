// The OIDC redirect URI: check the pending login (single use, same browser), exchange the code
// (PKCE verifier, state and nonce checked by openid-client; ID token signature, iss, aud, azp,
// exp/iat validated), map claims, create a fresh session and go back where the user started.
// An IdP that does not answer (down, hung past `timeout`, 5xx) is 503 GH_IDP_UNAVAILABLE with a
// link that starts the same sign-in again: the code itself is never retried (it may have been
// spent at the IdP; RFC 6749 §4.1.2 has a second use revoke what the first one issued).
import * as client from 'openid-client';
import { GatehouseError } from '../../errors.ts';
import type { Exchange } from '../../http/exchange.ts';
import { takePendingLogin, type PendingLogin } from '../login-state.ts';
import { completeSignIn, type SignInContext } from '../sign-in.ts';
import { checkCallbackState, mergeUserinfo, wantsUserinfo } from './callback-checks.ts';
import type { OidcClient } from './client.ts';
import { mapClaims, type MappedIdentity } from './claims.ts';
import { loginError, loginRetryPath } from './errors.ts';
import { nextRefreshAt } from './token-times.ts';

export interface CallbackDeps extends SignInContext {
  readonly now?: () => number;
}

type Tokens = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

export async function handleOidcCallback(ex: Exchange, oidc: OidcClient, deps: CallbackDeps): Promise<void> {
  const idp = oidc.config.id;
  const state = new URLSearchParams(ex.query.slice(1)).get('state');
  const taken = state
    ? await takePendingLogin(deps.sessions.pendingLogins, state, deps.loginCookie.read(ex.req.headers.cookie))
    : undefined;
  const pending = checkCallbackState(state, taken, idp);
  if (!pending.ok) throw new GatehouseError('GH_LOGIN_FAILED', pending.reason, { audit: { reason: pending.code, idp } });
  // A call to the IdP failed: an unreachable IdP also counts against its health (/readyz).
  const retryPath = loginRetryPath(idp, pending.login.returnUrl);
  const failed = (err: unknown) => {
    const gerr = loginError(err, idp, retryPath);
    if (gerr.code === 'GH_IDP_UNAVAILABLE' && !(err instanceof GatehouseError)) oidc.noteOutcome(err);
    return gerr;
  };
  let configuration: client.Configuration;
  try {
    configuration = oidc.configuration();
  } catch (err) {
    throw loginError(err, idp, retryPath);
  }
  const tokens = await redeemCode(ex, oidc, configuration, pending.login, pending.state).catch((err: unknown) =>
    Promise.reject(failed(err)),
  );
  const claims = tokens.claims()!;
  const mapped = await identityOf(oidc, configuration, tokens, claims).catch((err: unknown) => Promise.reject(failed(err)));
  if (mapped.user === undefined) {
    throw new GatehouseError(
      'GH_LOGIN_FAILED',
      `Sign-in with ${idp} failed: the identity provider did not send the "${oidc.config.claims.user}" claim that names the user.`,
      { audit: { reason: 'claim_missing', idp, subject: claims.sub } },
    );
  }
  await completeSignIn(ex, deps, {
    identity: { user: mapped.user, email: mapped.email, name: mapped.name, groups: mapped.groups ?? [] },
    idp,
    method: 'oidc',
    subject: claims.sub,
    idpSession: typeof claims.sid === 'string' ? claims.sid : undefined,
    tokens: {
      id_token: tokens.id_token!,
      ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
      ...(tokens.access_token ? { access_token: tokens.access_token } : {}),
    },
    refreshAt: nextRefreshAt(tokens, claims, oidc.config, (deps.now ?? Date.now)()),
    returnUrl: pending.login.returnUrl,
    status: 302,
    clearLoginCookie: taken?.ok === true && !taken.othersPending,
  });
}

/** The code for tokens at the IdP's token endpoint, then the ID token's signature. Throws the library's errors. */
async function redeemCode(
  ex: Exchange,
  oidc: OidcClient,
  configuration: client.Configuration,
  pending: PendingLogin,
  state: string,
): Promise<Tokens> {
  // The URL the IdP redirected to, rebuilt from the registered redirect URI (not from Host).
  const currentUrl = new URL(pending.redirectUri);
  currentUrl.search = ex.query;
  const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
    pkceCodeVerifier: pending.codeVerifier!,
    expectedState: state,
    expectedNonce: pending.nonce!,
    idTokenExpected: true,
  });
  oidc.noteOutcome(undefined);
  await oidc.verifyIdToken(tokens.id_token!);
  return tokens;
}

/** The ID token's claims, completed from UserInfo when wanted (wantsUserinfo). */
async function identityOf(
  oidc: OidcClient,
  configuration: client.Configuration,
  tokens: Tokens,
  claims: client.IDToken,
): Promise<MappedIdentity> {
  const mapped = mapClaims(claims, oidc.config.claims, oidc.config.splitGroupValuesOn);
  if (!wantsUserinfo(oidc.config.userinfo, mapped, Boolean(configuration.serverMetadata().userinfo_endpoint))) return mapped;
  const info = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
  return mergeUserinfo(mapped, info, oidc.config);
}
