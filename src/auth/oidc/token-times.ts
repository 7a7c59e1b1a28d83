// When a signed-in session should go back to its OIDC IdP: a pure computation shared by the
// callback (first tokens) and the background refresher (refreshed tokens).
import type * as client from 'openid-client';
import type { OidcProviderConfig } from '../../config/types.ts';

/** When to ask the IdP next: token expiry, or the revalidation interval, whichever comes first. */
export function nextRefreshAt(
  tokens: { readonly refresh_token?: string | undefined; readonly expires_in?: number | undefined },
  claims: client.IDToken | undefined,
  config: Pick<OidcProviderConfig, 'revalidateMs'>,
  now: number,
): number | undefined {
  if (!tokens.refresh_token) return undefined;
  const candidates: number[] = [];
  if (typeof tokens.expires_in === 'number') candidates.push(now + tokens.expires_in * 1000);
  if (claims?.exp) candidates.push(claims.exp * 1000);
  if (config.revalidateMs !== undefined) candidates.push(now + config.revalidateMs);
  return candidates.length ? Math.min(...candidates) : undefined;
}
