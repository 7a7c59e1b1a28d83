// Issue 12, item 5: what the IdP did decides the answer. It did not answer (refused, reset,
// timed out, aborted, 5xx): 503 GH_IDP_UNAVAILABLE, worth a retry, with the way back to sign-in.
// It answered and refused, or its answer did not validate: 400 GH_LOGIN_FAILED.
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { IdpUnavailableError, isIdpUnavailable, loginError, loginRetryPath } from '../../../src/auth/oidc/errors.ts';

const retry = loginRetryPath('corp', '/runs/7?tab=metrics');

/** openid-client's ClientError as it throws it (its typings omit the `code` option). */
const clientError = (message: string, code: string, cause?: unknown) => new client.ClientError(message, { code, cause } as ErrorOptions);

describe('loginError', () => {
  it.each([
    ['a timeout (openid-client OAUTH_TIMEOUT)', clientError('operation timed out', 'OAUTH_TIMEOUT')],
    ['an abort (OAUTH_ABORT)', clientError('operation aborted', 'OAUTH_ABORT')],
    [
      'a refused connection (fetch failed)',
      new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
    ],
    [
      'a 502 from the IdP',
      clientError('unexpected HTTP response status code', 'OAUTH_RESPONSE_IS_NOT_CONFORM', new Response('bad gateway', { status: 502 })),
    ],
    ['a JWKS timeout (jose)', Object.assign(new Error('request timed out'), { code: 'ERR_JWKS_TIMEOUT' })],
    ['an undici socket error', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })],
  ])('%s is 503 GH_IDP_UNAVAILABLE with the retry path', (_what, err) => {
    expect(isIdpUnavailable(err)).toBe(true);
    const g = loginError(err, 'corp', retry);
    expect(g).toBeInstanceOf(IdpUnavailableError);
    expect(g).toMatchObject({
      code: 'GH_IDP_UNAVAILABLE',
      status: 503,
      retryPath: '/.gatehouse/login?rd=%2Fruns%2F7%3Ftab%3Dmetrics&idp=corp',
      cause: err,
    });
  });

  it.each([
    [
      'an OAuth error answer (invalid_grant)',
      Object.assign(Object.create(client.ResponseBodyError.prototype) as object, {
        error: 'invalid_grant',
        error_description: 'code expired',
      }),
    ],
    [
      'a 400 from the token endpoint',
      clientError('unexpected HTTP response status code', 'OAUTH_RESPONSE_IS_NOT_CONFORM', new Response('no', { status: 400 })),
    ],
    ['a token that does not validate', clientError('unexpected JWT claim value encountered', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED')],
    ['anything else', new Error('surprise')],
  ])('%s is 400 GH_LOGIN_FAILED', (_what, err) => {
    expect(isIdpUnavailable(err)).toBe(false);
    expect(loginError(err, 'corp', retry)).toMatchObject({ code: 'GH_LOGIN_FAILED', status: 400 });
  });

  it('an IdpUnavailableError without a way back gets the retry path; other Gatehouse errors pass unchanged', () => {
    const bare = new IdpUnavailableError('identity provider corp is not reachable (not discovered yet)');
    expect(loginError(bare, 'corp', retry)).toMatchObject({
      code: 'GH_IDP_UNAVAILABLE',
      retryPath: '/.gatehouse/login?rd=%2Fruns%2F7%3Ftab%3Dmetrics&idp=corp',
      message: bare.message,
    });
    const withOwn = new IdpUnavailableError('x', { retryPath: '/.gatehouse/login?rd=%2F&idp=corp' });
    expect(loginError(withOwn, 'corp', retry)).toBe(withOwn);
  });

  it('the retry path always starts a sign-in on this origin, whatever the return URL holds', () => {
    expect(loginRetryPath('corp', 'https://evil.example/"><script>')).toBe(
      '/.gatehouse/login?rd=https%3A%2F%2Fevil.example%2F%22%3E%3Cscript%3E&idp=corp',
    );
  });
});
