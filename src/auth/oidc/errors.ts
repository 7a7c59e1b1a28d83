// openid-client / oauth4webapi errors → Gatehouse errors, keeping the original as `cause`.
// An IdP that cannot be reached, does not answer in time, or answers with a server error is
// GH_IDP_UNAVAILABLE (503): nothing the user did wrong, and worth trying again. Anything the IdP
// or its tokens got wrong is GH_LOGIN_FAILED (400) with a reason a user can quote.
import * as client from 'openid-client';
import { GatehouseError } from '../../errors.ts';
import { jwtRefusalReason } from '../refusal-reason.ts';
import { LOGIN_PATH } from '../../http/endpoints.ts';
import type { Exchange } from '../../http/exchange.ts';
import { escapeHtml, renderPage } from '../../http/pages.ts';
import { isBrowserNavigation, publicMessage, sendBody } from '../../http/respond.ts';

/**
 * 503 GH_IDP_UNAVAILABLE. `retryPath`, when set, is a same-origin path that starts the same
 * sign-in again (same IdP, same return URL): the error page offers it as a link. Only set where
 * starting again is safe — a fresh sign-in with new state, nonce and PKCE, never a replayed code.
 */
export class IdpUnavailableError extends GatehouseError {
  readonly retryPath: string | undefined;

  constructor(message: string, options: { cause?: unknown; retryPath?: string | undefined } = {}) {
    super('GH_IDP_UNAVAILABLE', message, options);
    this.name = 'IdpUnavailableError';
    this.retryPath = options.retryPath;
  }
}

/** The sign-in start URL (relative) for `idp` returning to `returnUrl` (the `rd` query parameter). */
export function loginRetryPath(idp: string, returnUrl: string): string {
  return `${LOGIN_PATH}?rd=${encodeURIComponent(returnUrl)}&idp=${encodeURIComponent(idp)}`;
}

/** OAuth error code from the IdP (e.g. "invalid_grant"), when the failure is one. */
export function oauthErrorCode(err: unknown): string | undefined {
  if (err instanceof client.ResponseBodyError) return err.error;
  if (err instanceof client.AuthorizationResponseError) return err.error;
  return undefined;
}

// openid-client's codes for a request that did not complete (AbortSignal.timeout, or aborted).
const NO_ANSWER_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'ERR_JWKS_TIMEOUT']);

/**
 * True when `err` says the IdP could not be reached or did not answer in time: a network error
 * (fetch's TypeError, undici's socket errors), a timeout or abort, or an HTTP 5xx from the IdP.
 */
export function isIdpUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  if (err instanceof IdpUnavailableError) return true;
  const name = (err as { name?: unknown }).name;
  const code = (err as { code?: unknown }).code;
  if (err instanceof TypeError || name === 'AbortError' || name === 'TimeoutError') return true;
  if (
    typeof code === 'string' &&
    (NO_ANSWER_CODES.has(code) || code.startsWith('UND_ERR_') || /^E(CONN|HOST|NET|TIMEDOUT|PIPE|AI_)/.test(code))
  )
    return true;
  // An unexpected HTTP status: the IdP (or its load balancer) failing, not refusing us.
  if (err instanceof client.ClientError && code === 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
    const status = (err.cause as { status?: unknown } | undefined)?.status;
    return typeof status === 'number' && status >= 500;
  }
  return false;
}

/**
 * The Gatehouse error for a failed call to `idp`. `retryPath`: where the user may start the same
 * sign-in again when the IdP was unavailable (see IdpUnavailableError).
 */
export function loginError(err: unknown, idp: string, retryPath?: string): GatehouseError {
  if (err instanceof IdpUnavailableError && err.retryPath === undefined && retryPath !== undefined) {
    return new IdpUnavailableError(err.message, { cause: err.cause, retryPath });
  }
  if (err instanceof GatehouseError) return err;
  if (isIdpUnavailable(err)) {
    const why = err instanceof Error ? err.message : String(err);
    return new IdpUnavailableError(`identity provider ${idp} did not answer: ${why}`, { cause: err, retryPath });
  }
  const oauth = oauthErrorCode(err);
  if (oauth !== undefined) {
    const description = (err as { error_description?: string }).error_description;
    return new GatehouseError(
      'GH_LOGIN_FAILED',
      `Sign-in with ${idp} failed: the identity provider answered "${oauth}"${description ? ` (${description})` : ''}.`,
      { cause: err, audit: { reason: `idp_error:${/^[a-z0-9_.-]{1,64}$/i.test(oauth) ? oauth : 'other'}`, idp } },
    );
  }
  if (err instanceof client.ClientError) {
    // Token validation failures: signature, issuer, audience, expiry, nonce, unexpected algorithm.
    return new GatehouseError(
      'GH_LOGIN_FAILED',
      `Sign-in with ${idp} failed: the identity provider's answer did not pass validation (${err.code ?? 'invalid'}).`,
      { cause: err, audit: { reason: jwtRefusalReason(err, 'id_token_invalid'), idp } },
    );
  }
  // The library's own words stay in `cause` (logged), not on the page.
  return new GatehouseError('GH_LOGIN_FAILED', `Sign-in with ${idp} failed: its answer could not be used.`, {
    cause: err,
    audit: { reason: 'answer_unusable', idp },
  });
}

/**
 * For a browser: the 503 page with a link that starts sign-in again (GET, same return URL): the
 * error's own retryPath (a callback), or the sign-in start that failed (GET /.gatehouse/login).
 * Returns false when this exchange should get the plain error instead (API clients, no retry).
 */
export function sendIdpRetryPage(ex: Exchange, err: GatehouseError): boolean {
  const retryPath =
    err instanceof IdpUnavailableError && err.retryPath !== undefined
      ? err.retryPath
      : ex.path === LOGIN_PATH && ex.method === 'GET'
        ? ex.path + ex.query
        : undefined;
  const res = ex.res;
  if (retryPath === undefined || !res || res.headersSent || ex.browser === false || !isBrowserNavigation(ex.req)) return false;
  ex.errorCode = err.code;
  ex.decision ??= 'error';
  const body = renderPage(
    'Sign-in unavailable',
    `<p>${escapeHtml(publicMessage(err))}</p>
<p><a href="${escapeHtml(retryPath)}">${ex.path === LOGIN_PATH ? 'Try again' : 'Sign in again'}</a></p>
<p class="rid">Request ID: ${escapeHtml(ex.id)}</p>`,
  );
  // sendBody writes `ex.setCookies` too (a cleared login cookie, say).
  sendBody(ex, err.status, 'text/html; charset=utf-8', body);
  return true;
}
