// SP-initiated SAML sign-in: an AuthnRequest over HTTP-Redirect (signed when the SP has a key).
// RelayState is an opaque state bound server-side to the pending sign-in (return URL, request ID)
// and to this browser's login cookie — never the return URL itself.
import { randomBytes } from 'node:crypto';
import type { Exchange } from '../../http/exchange.ts';
import { sendRedirect } from '../../http/respond.ts';
import { savePendingLogin } from '../login-state.ts';
import type { AuthContext } from '../provider.ts';
import type { SamlProvider } from './sp.ts';

export async function startSamlLogin(ex: Exchange, sp: SamlProvider, returnUrl: string, ctx: AuthContext): Promise<void> {
  // SAML IDs must start with a letter or "_" (xsd:ID).
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const state = randomBytes(24).toString('base64url');
  const url = await sp.saml(requestId).getAuthorizeUrlAsync(state, undefined, {});
  const cookie = ctx.loginCookie.ensure(ex.req.headers.cookie);
  await savePendingLogin(
    ctx.sessions.pendingLogins,
    state,
    { idp: sp.config.id, returnUrl, redirectUri: sp.acsUrl, requestId },
    cookie.value,
    ctx.config.session.login.maxPending,
  );
  if (cookie.setCookie) (ex.setCookies ??= []).push(cookie.setCookie);
  ex.event({ action: 'login_started', outcome: 'success', idp: sp.config.id });
  sendRedirect(ex, 302, url);
}
