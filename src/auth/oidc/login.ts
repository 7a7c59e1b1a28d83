// Start an OIDC sign-in: authorization code flow with state, nonce and PKCE (S256) every time.
// The pending login lives server-side (login-state.ts); the browser only carries `state`.
import * as client from 'openid-client';
import type { PendingLogins } from '../../session/one-time.ts';
import type { Exchange } from '../../http/exchange.ts';
import { oidcCallbackPath } from '../../http/endpoints.ts';
import { sendRedirect } from '../../http/respond.ts';
import { savePendingLogin, type LoginCookie } from '../login-state.ts';
import type { OidcClient } from './client.ts';

export async function startOidcLogin(ex: Exchange, oidc: OidcClient, rd: string, base: string, store: PendingLogins, loginCookie: LoginCookie, maxPending: number): Promise<void> {
  const configuration = oidc.configuration();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const redirectUri = `${base}${oidcCallbackPath(oidc.config.id)}`;
  const url = client.buildAuthorizationUrl(configuration, {
    ...oidc.config.authorizationParams,
    redirect_uri: redirectUri,
    scope: oidc.config.scopes.join(' '),
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const cookie = loginCookie.ensure(ex.req.headers.cookie);
  await savePendingLogin(store, state, { idp: oidc.config.id, rd, redirectUri, nonce, codeVerifier }, cookie.value, maxPending);
  if (cookie.setCookie) (ex.setCookies ??= []).push(cookie.setCookie);
  ex.event({ action: 'login_started', outcome: 'success', idp: oidc.config.id });
  sendRedirect(ex, 302, url.href);
}
