// /.gatehouse/logout: GET shows a confirmation form (a link or image tag must not sign anyone
// out); POST with the session's CSRF token revokes the session server-side and clears the cookie.
// When the session's provider names a logout URL for it (OIDC end_session_endpoint with
// id_token_hint, SAML single logout), the browser then goes there to end the IdP session too.
import { GatehouseError } from '../errors.ts';
import type { IdentityProviders } from './providers.ts';
import type { SessionManager } from '../session/manager.ts';
import type { Exchange } from '../http/exchange.ts';
import { escapeHtml, renderPage, returnField, signedOutBody } from '../http/pages.ts';
import { readFormBody } from '../http/body.ts';
import { sendBody, sendRedirect } from '../http/respond.ts';
import { LOGOUT_PATH } from '../http/endpoints.ts';

export async function handleLogout(ex: Exchange, sessions: SessionManager, providers: IdentityProviders): Promise<void> {
  const method = ex.req.method;
  // rd: where to go after signing in again; `state` brings it back from the IdP's end-session page.
  const query = new URLSearchParams(ex.query.slice(1));
  const rd = providers.auth.checkReturnUrl(query.get('rd') ?? query.get('state'));
  if (method === 'GET' || method === 'HEAD') {
    const body = ex.session
      ? renderPage(
          'Sign out',
          `<p>Signed in as <strong>${escapeHtml(ex.session.record.user)}</strong>.</p>
<form method="post" action="${LOGOUT_PATH}"><input type="hidden" name="csrf" value="${escapeHtml(sessions.csrfToken(ex.session.key))}">${returnField(rd)}
<button type="submit">Sign out</button></form>`,
        )
      : renderPage('Signed out', signedOutBody(rd));
    sendBody(ex, 200, 'text/html; charset=utf-8', body);
    return;
  }
  if (method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Use GET for the sign-out page or POST to sign out.');
  const form = await readFormBody(ex.req, 8 * 1024);
  const back = providers.auth.checkReturnUrl(form.get('rd'));
  // Without a session this request proves nothing about who sent it: a cross-site form (no
  // SameSite=Lax cookie), or a tossed second cookie that made the real one untrusted. Clearing
  // the cookie then would be a logout CSRF, so the cookie is cleared only with the session.
  if (ex.session) {
    if (!sessions.verifyCsrf(ex.session.key, form.get('csrf') ?? '')) {
      throw new GatehouseError('GH_BAD_CSRF', 'The sign-out form expired or did not come from this site. Reload the page and try again.');
    }
    (ex.setCookies ??= []).push(sessions.cookie.clear());
    const provider = providers.byId.get(ex.session.record.idp);
    const idpLogout = withState(await provider?.logoutUrl(ex, ex.session), provider?.kind, back);
    await sessions.revoke(ex.session.key);
    ex.event({ action: 'logout', outcome: 'success', reason: 'user' });
    if (idpLogout) {
      sendRedirect(ex, 303, idpLogout);
      return;
    }
  }
  sendRedirect(ex, 303, back === '/' ? LOGOUT_PATH : `${LOGOUT_PATH}?rd=${encodeURIComponent(back)}`);
}

/**
 * OIDC end-session URLs carry `state` back to the post-logout page (RP-initiated logout 1.0), so
 * "sign in as someone else" returns to the page it started from. SAML logout URLs are signed:
 * left as they are.
 */
function withState(url: string | undefined, kind: string | undefined, back: string): string | undefined {
  if (url === undefined || kind !== 'oidc' || back === '/') return url;
  const u = new URL(url);
  u.searchParams.set('state', back);
  return u.href;
}
