// /.gatehouse/logout: GET shows a confirmation form (a link or image tag must not sign anyone
// out); POST with the session's CSRF token revokes the session server-side and clears the cookie.
// Issue #4 adds the redirect to the IdP's end_session_endpoint.
import { GatehouseError } from '../errors.ts';
import type { SessionManager } from '../session/manager.ts';
import type { Exchange } from '../server/exchange.ts';
import { escapeHtml, renderPage } from '../server/pages.ts';
import { readFormBody } from '../server/body.ts';
import { sendBody, sendRedirect } from '../server/respond.ts';
import { LOGOUT_PATH } from '../server/endpoints.ts';

export async function handleLogout(ex: Exchange, sessions: SessionManager): Promise<void> {
  const method = ex.req.method;
  if (method === 'GET' || method === 'HEAD') {
    const body = ex.session
      ? renderPage('Sign out', `<p>Signed in as <strong>${escapeHtml(ex.session.record.user)}</strong>.</p>
<form method="post" action="${LOGOUT_PATH}"><input type="hidden" name="csrf" value="${escapeHtml(sessions.csrfToken(ex.session.key))}">
<button type="submit">Sign out</button></form>`)
      : renderPage('Signed out', '<p>You are not signed in.</p>');
    sendBody(ex, 200, 'text/html; charset=utf-8', body);
    return;
  }
  if (method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Use GET for the sign-out page or POST to sign out.');
  const form = await readFormBody(ex.req, 8 * 1024);
  (ex.setCookies ??= []).push(sessions.cookie.clear());
  if (ex.session) {
    if (!sessions.verifyCsrf(ex.session.key, form.get('csrf') ?? '')) {
      ex.setCookies = undefined;
      throw new GatehouseError('GH_BAD_CSRF', 'The sign-out form expired or did not come from this site. Reload the page and try again.');
    }
    await sessions.revoke(ex.session.key);
  }
  sendRedirect(ex, 303, `${LOGOUT_PATH}`);
}
