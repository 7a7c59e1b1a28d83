// Start an OIDC sign-in: authorization code flow with state, nonce and PKCE (S256) every time.
// The pending login lives server-side (login-state.ts); the browser only carries `state`.
import * as client from 'openid-client';
import type { Exchange } from '../../http/exchange.ts';
import { oidcCallbackPath } from '../../http/endpoints.ts';
import { sendRedirect } from '../../http/respond.ts';
import { publicBase } from '../base-url.ts';
import { savePendingLogin } from '../login-state.ts';
import type { AuthContext } from '../provider.ts';
import type { OidcClient } from './client.ts';

export async function startOidcLogin(ex: Exchange, oidc: OidcClient, returnUrl: string, ctx: AuthContext): Promise<void> {
  const configuration = oidc.configuration();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const redirectUri = `${publicBase(ex, ctx.config)}${oidcCallbackPath(oidc.config.id)}`;
  const url = client.buildAuthorizationUrl(configuration, {
    ...oidc.config.authorizationParams,
    redirect_uri: redirectUri,
    scope: oidc.config.scopes.join(' '),
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const cookie = ctx.loginCookie.ensure(ex.req.headers.cookie);
  await savePendingLogin(
    ctx.sessions.pendingLogins,
    state,
    { idp: oidc.config.id, returnUrl, redirectUri, nonce, codeVerifier },
    cookie.value,
    ctx.config.session.login.maxPending,
  );
  if (cookie.setCookie) (ex.setCookies ??= []).push(cookie.setCookie);
  ex.event({ action: 'login_started', outcome: 'success', idp: oidc.config.id });
  sendRedirect(ex, 302, url.href);
}
