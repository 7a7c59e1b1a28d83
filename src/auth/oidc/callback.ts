// The OIDC redirect URI: check the pending login (single use, same browser), exchange the code
// (PKCE verifier, state and nonce checked by openid-client; ID token signature, iss, aud, azp,
// exp/iat validated), map claims, create a fresh session and go back where the user started.
// An IdP that does not answer (down, hung past `timeout`, 5xx) is 503 GH_IDP_UNAVAILABLE with a
// link that starts the same sign-in again: the code itself is never retried (it may have been
// spent at the IdP; RFC 6749 §4.1.2 has a second use revoke what the first one issued).
import * as client from 'openid-client';
import { GatehouseError } from '../../errors.ts';
import type { SessionManager } from '../../session/manager.ts';
import type { Exchange } from '../../http/exchange.ts';
import { sendRedirect } from '../../http/respond.ts';
import { takePendingLogin, type LoginCookie } from '../login-state.ts';
import type { ReturnUrlCheck } from '../return-url.ts';
import type { OidcClient } from './client.ts';
import { asGroups, claimAt, mapClaims } from './claims.ts';
import { loginError, loginRetryPath } from './errors.ts';
import { nextRefreshAt } from './refresh.ts';

export interface CallbackDeps {
  readonly sessions: SessionManager;
  readonly loginCookie: LoginCookie;
  readonly checkReturnUrl: ReturnUrlCheck;
  readonly now?: () => number;
}

export async function handleOidcCallback(ex: Exchange, oidc: OidcClient, deps: CallbackDeps): Promise<void> {
  const idp = oidc.config.id;
  const params = new URLSearchParams(ex.query.slice(1));
  const state = params.get('state');
  if (!state) throw new GatehouseError('GH_LOGIN_FAILED', 'Sign-in failed: the answer from the identity provider has no state. Start again from the application.');
  const taken = await takePendingLogin(deps.sessions.pendingLogins, state, deps.loginCookie.read(ex.req.headers.cookie));
  if (!taken.ok) {
    throw new GatehouseError('GH_LOGIN_FAILED', taken.reason === 'unknown-state'
      ? 'Sign-in failed: this sign-in link is unknown, expired or was already used. Start again from the application.'
      : 'Sign-in failed: this sign-in was started in another browser. Start again from the application.');
  }
  const pending = taken.login;
  if (pending.idp !== idp) throw new GatehouseError('GH_LOGIN_FAILED', 'Sign-in failed: the answer came back to the wrong identity provider.');

  const retryPath = loginRetryPath(idp, pending.rd);
  // A call to the IdP failed: an unreachable IdP also counts against its health (/readyz).
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
  // The URL the IdP redirected to, rebuilt from the registered redirect URI (not from Host).
  const currentUrl = new URL(pending.redirectUri);
  currentUrl.search = ex.query;
  let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  try {
    tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
      pkceCodeVerifier: pending.codeVerifier!,
      expectedState: state,
      expectedNonce: pending.nonce!,
      idTokenExpected: true,
    });
  } catch (err) {
    throw failed(err);
  }
  oidc.noteOutcome(undefined);
  try {
    await oidc.verifyIdToken(tokens.id_token!);
  } catch (err) {
    throw failed(err);
  }
  const claims = tokens.claims()!;
  let mapped = mapClaims(claims, oidc.config.claims, oidc.config.splitGroupValuesOn);
  const mode = oidc.config.userinfo;
  if (mode === 'always' || (mode === 'auto' && mapped.groups === undefined && configuration.serverMetadata().userinfo_endpoint)) {
    try {
      const info = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      const fromInfo = mapClaims(info, oidc.config.claims, oidc.config.splitGroupValuesOn);
      mapped = {
        user: mapped.user ?? fromInfo.user,
        email: mapped.email ?? fromInfo.email,
        name: mapped.name ?? fromInfo.name,
        groups: mapped.groups ?? fromInfo.groups ?? asGroups(claimAt(info, oidc.config.claims.groups), oidc.config.splitGroupValuesOn),
      };
    } catch (err) {
      throw failed(err);
    }
  }
  if (mapped.user === undefined) {
    throw new GatehouseError('GH_LOGIN_FAILED', `Sign-in with ${idp} failed: the identity provider did not send the "${oidc.config.claims.user}" claim that names the user.`);
  }

  const now = (deps.now ?? Date.now)();
  const session = await deps.sessions.create({
    user: mapped.user,
    email: mapped.email,
    name: mapped.name,
    groups: mapped.groups ?? [],
    idp,
    method: 'oidc',
    subject: claims.sub,
    idpSession: typeof claims.sid === 'string' ? claims.sid : undefined,
    tokens: {
      id_token: tokens.id_token!,
      ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
      ...(tokens.access_token ? { access_token: tokens.access_token } : {}),
    },
    refreshAt: nextRefreshAt(tokens, claims, oidc.config, now),
  });
  // The pending sign-in is over: its binding cookie has nothing left to bind — unless sign-ins
  // started in other tabs of this browser still wait for it.
  (ex.setCookies ??= []).push(deps.sessions.cookie.serialize(session.cookieValue, deps.sessions.absoluteMs));
  if (!taken.othersPending) ex.setCookies.push(deps.loginCookie.clear());
  ex.identity = session.record;
  ex.session = { key: session.key, record: session.record };
  ex.event({ action: 'login_succeeded', outcome: 'success', idp, session: session.key });
  sendRedirect(ex, 302, deps.checkReturnUrl(pending.rd));
}
