// /.gatehouse/logout: GET shows a confirmation form (a link or image tag must not sign anyone
// out); POST with the session's CSRF token revokes the session server-side and clears the cookie.
// When the session came from an OIDC provider with an end_session_endpoint, the browser then goes
// there (RP-initiated logout, with id_token_hint) to end the IdP session too.
import * as client from 'openid-client';
import type { Config } from '../config/compile.ts';
import { GatehouseError } from '../errors.ts';
import type { IdentityProviders } from './providers.ts';
import { publicBase } from './base-url.ts';
import { samlLogoutUrl } from './saml/slo.ts';
import type { SessionManager } from '../session/manager.ts';
import type { Exchange } from '../http/exchange.ts';
import { escapeHtml, renderPage, returnField, signedOutBody } from '../http/pages.ts';
import { readFormBody } from '../http/body.ts';
import { sendBody, sendRedirect } from '../http/respond.ts';
import { LOGOUT_PATH } from '../http/endpoints.ts';

export async function handleLogout(ex: Exchange, sessions: SessionManager, providers: IdentityProviders, config: Config): Promise<void> {
  const method = ex.req.method;
  // rd: where to go after signing in again; `state` brings it back from the IdP's end-session page.
  const query = new URLSearchParams(ex.query.slice(1));
  const rd = providers.checkReturnUrl(query.get('rd') ?? query.get('state'));
  if (method === 'GET' || method === 'HEAD') {
    const body = ex.session
      ? renderPage('Sign out', `<p>Signed in as <strong>${escapeHtml(ex.session.record.user)}</strong>.</p>
<form method="post" action="${LOGOUT_PATH}"><input type="hidden" name="csrf" value="${escapeHtml(sessions.csrfToken(ex.session.key))}">${returnField(rd)}
<button type="submit">Sign out</button></form>`)
      : renderPage('Signed out', signedOutBody(rd));
    sendBody(ex, 200, 'text/html; charset=utf-8', body);
    return;
  }
  if (method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Use GET for the sign-out page or POST to sign out.');
  const form = await readFormBody(ex.req, 8 * 1024);
  // Without a session this request proves nothing about who sent it: a cross-site form (no
  // SameSite=Lax cookie), or a tossed second cookie that made the real one untrusted. Clearing
  // the cookie then would be a logout CSRF, so the cookie is cleared only with the session.
  if (ex.session) {
    if (!sessions.verifyCsrf(ex.session.key, form.get('csrf') ?? '')) {
      throw new GatehouseError('GH_BAD_CSRF', 'The sign-out form expired or did not come from this site. Reload the page and try again.');
    }
    const back = providers.checkReturnUrl(form.get('rd'));
    (ex.setCookies ??= []).push(sessions.cookie.clear());
    const sp = providers.saml.get(ex.session.record.idp);
    const idpLogout = sp ? await samlLogoutUrl(sp, ex.session.key, ex.session.record, sessions) : endSessionUrl(ex, sessions, providers, config, back);
    await sessions.revoke(ex.session.key);
    ex.event({ action: 'logout', outcome: 'success', reason: 'user' });
    if (idpLogout) {
      sendRedirect(ex, 303, idpLogout);
      return;
    }
  }
  const back = providers.checkReturnUrl(form.get('rd'));
  sendRedirect(ex, 303, back === '/' ? LOGOUT_PATH : `${LOGOUT_PATH}?rd=${encodeURIComponent(back)}`);
}

/** The IdP's end-session URL for this session, when its provider has one. */
function endSessionUrl(ex: Exchange, sessions: SessionManager, providers: IdentityProviders, config: Config, back: string): string | undefined {
  const { key, record } = ex.session!;
  const oidc = providers.oidc.get(record.idp);
  if (!oidc) return undefined;
  let configuration;
  try {
    configuration = oidc.configuration();
  } catch {
    return undefined; // IdP unreachable: the local session still ends
  }
  if (!configuration.serverMetadata().end_session_endpoint) return undefined;
  const idToken = sessions.tokens(key, record)?.id_token;
  return client.buildEndSessionUrl(configuration, {
    post_logout_redirect_uri: oidc.config.postLogoutRedirectUri ?? `${publicBase(ex, config)}${LOGOUT_PATH}`,
    client_id: oidc.config.clientId,
    ...(idToken ? { id_token_hint: idToken } : {}),
    ...(back !== '/' ? { state: back } : {}),
  }).href;
}
