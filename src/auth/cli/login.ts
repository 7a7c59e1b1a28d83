// GET /.gatehouse/cli/login?redirect_uri=http://127.0.0.1:<port>/<path>&code_challenge=…
// &code_challenge_method=S256&state=… — the browser half of `gatehouse login` (RFC 8252 loopback
// redirect). Not signed in: the normal sign-in (any IdP, OIDC or SAML) with this URL as the
// return URL. Signed in: a page asking the user to let the command on this computer in; its form
// (POST, the session's CSRF token, so no other site or link can approve silently) answers with a
// one-time code for the loopback listener (grants.ts). Only loopback IP
// literals are accepted as redirect_uri (RFC 8252 §7.3, §8.3: not "localhost", never another
// host), so the code can only reach a program on the user's own machine, and PKCE binds it to the
// program that started the flow.
import { GatehouseError } from '../../errors.ts';
import { CLI_LOGIN_PATH, LOGIN_PATH } from '../../http/endpoints.ts';
import type { Exchange } from '../../http/exchange.ts';
import { readFormBody } from '../../http/body.ts';
import { escapeHtml, renderPage } from '../../http/pages.ts';
import { sendBody, sendRedirect } from '../../http/respond.ts';
import type { SessionManager } from '../../session/manager.ts';
import { issueCode, PKCE_VALUE } from './grants.ts';

// http, a loopback IP literal, any port, a path without fragment, spaces, backslashes or controls.
const LOOPBACK_REDIRECT = /^http:\/\/(?:127\.0\.0\.1|\[::1\])(?::\d{1,5})?(?:\/[^#\s\\\u0000-\u001f\u007f]*)?$/;

/** True for a redirect_uri the CLI sign-in may send a code to. */
export function isLoopbackRedirect(uri: string): boolean {
  if (uri.length > 2048 || !LOOPBACK_REDIRECT.test(uri) || !URL.canParse(uri)) return false;
  const port = new URL(uri).port;
  return port === '' || Number(port) <= 65535;
}

const FIELDS = ['redirect_uri', 'code_challenge', 'code_challenge_method', 'state'] as const;

export async function handleCliLogin(ex: Exchange, sessions: SessionManager): Promise<void> {
  const post = ex.method === 'POST';
  if (!post && ex.method !== 'GET' && ex.method !== 'HEAD') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Use GET.');
  const params = post ? await readFormBody(ex.req, 8 * 1024) : new URLSearchParams(ex.query.slice(1));
  const redirectUri = params.get('redirect_uri') ?? '';
  const challenge = params.get('code_challenge') ?? '';
  const state = params.get('state') ?? '';
  const refuse = (why: string) => {
    ex.event({ action: 'login_failed', outcome: 'failure', reason: 'cli_bad_request', message: why });
    return new GatehouseError('GH_BAD_REQUEST', `This command-line sign-in link is not valid: ${why}.`);
  };
  if (!isLoopbackRedirect(redirectUri)) throw refuse('redirect_uri must be http://127.0.0.1:<port>/… or http://[::1]:<port>/…');
  if (params.get('code_challenge_method') !== 'S256' || !PKCE_VALUE.test(challenge))
    throw refuse('a PKCE code_challenge with code_challenge_method=S256 is required');
  if (state.length === 0 || state.length > 512) throw refuse('state is required');
  // A user token's CLI session cannot approve another CLI sign-in: only a browser session can.
  const session = ex.session && ex.session.record.kind !== 'cli' ? ex.session : undefined;
  if (!post) {
    if (!session) sendRedirect(ex, 302, `${LOGIN_PATH}?rd=${encodeURIComponent(ex.path + ex.query)}`);
    else sendConsent(ex, params, sessions.csrfToken(session.key), session.record.user);
    return;
  }
  if (!session || !sessions.verifyCsrf(session.key, params.get('csrf') ?? ''))
    throw new GatehouseError('GH_BAD_CSRF', 'The sign-in form expired or did not come from this site. Run gatehouse login again.');
  const code = await issueCode(sessions.values, { session: session.key, challenge, redirectUri });
  const target = new URL(redirectUri);
  target.searchParams.set('code', code);
  target.searchParams.set('state', state);
  sendRedirect(ex, 303, target.href);
}

function sendConsent(ex: Exchange, params: URLSearchParams, csrf: string, user: string): void {
  const hidden = FIELDS.map((n) => `<input type="hidden" name="${n}" value="${escapeHtml(params.get(n) ?? '')}">`).join('');
  const body = `<p>The <code>gatehouse</code> command on this computer asks to act as <strong>${escapeHtml(user)}</strong> at ${escapeHtml(ex.authority || ex.host)}.</p>
<p>Continue only if you just ran <code>gatehouse login</code> yourself.</p>
<form method="post" action="${CLI_LOGIN_PATH}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${hidden}
<button id="approve" type="submit">Continue</button></form>`;
  sendBody(ex, 200, 'text/html; charset=utf-8', renderPage('Command-line sign-in', body));
}
