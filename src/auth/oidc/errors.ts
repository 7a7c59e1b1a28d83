// openid-client / oauth4webapi errors → Gatehouse errors, keeping the original as `cause`.
// An IdP that cannot be reached is GH_IDP_UNAVAILABLE (503); anything the IdP or its tokens got
// wrong is GH_LOGIN_FAILED (400) with a reason a user can quote.
import * as client from 'openid-client';
import { GatehouseError } from '../../errors.ts';

/** OAuth error code from the IdP (e.g. "invalid_grant"), when the failure is one. */
export function oauthErrorCode(err: unknown): string | undefined {
  if (err instanceof client.ResponseBodyError) return err.error;
  if (err instanceof client.AuthorizationResponseError) return err.error;
  return undefined;
}

export function loginError(err: unknown, idp: string): GatehouseError {
  if (err instanceof GatehouseError) return err;
  const oauth = oauthErrorCode(err);
  if (oauth !== undefined) {
    const description = (err as { error_description?: string }).error_description;
    return new GatehouseError('GH_LOGIN_FAILED', `Sign-in with ${idp} failed: the identity provider answered "${oauth}"${description ? ` (${description})` : ''}.`, { cause: err });
  }
  if (err instanceof client.ClientError) {
    // Token validation failures: signature, issuer, audience, expiry, nonce, unexpected algorithm.
    return new GatehouseError('GH_LOGIN_FAILED', `Sign-in with ${idp} failed: the identity provider's answer did not pass validation (${err.code ?? 'invalid'}: ${err.message}).`, { cause: err });
  }
  if (err instanceof TypeError || (err as { name?: string })?.name === 'AbortError' || (err as { name?: string })?.name === 'TimeoutError') {
    return new GatehouseError('GH_IDP_UNAVAILABLE', `identity provider ${idp} did not answer: ${(err as Error).message}`, { cause: err });
  }
  return new GatehouseError('GH_LOGIN_FAILED', `Sign-in with ${idp} failed: ${(err as Error)?.message ?? 'unknown error'}.`, { cause: err });
}
