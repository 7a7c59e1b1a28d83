// Bearer tokens' claims completed from the IdP's userinfo endpoint (`bearer_userinfo`), the way a
// sign-in completes its ID token's (oidc/callback.ts, `userinfo: auto|always|never`): access tokens
// at Okta, Entra and Keycloak carry no groups by default. The token itself is the credential for
// the call; a token userinfo refuses is refused here too (the IdP no longer vouches for it).
import * as client from 'openid-client';
import { GatehouseError } from '../../errors.ts';
import { mergeUserinfo, wantsUserinfo } from '../oidc/callback-checks.ts';
import type { MappedIdentity } from '../oidc/claims.ts';
import type { OidcClient } from '../oidc/client.ts';
import { IdpUnavailableError, isIdpUnavailable } from '../oidc/errors.ts';

/** `mapped` completed from userinfo when the IdP opts in and its `userinfo` mode wants it. */
export async function withUserinfo(c: OidcClient, token: string, sub: unknown, mapped: MappedIdentity): Promise<MappedIdentity> {
  if (c.config.bearerUserinfo === undefined) return mapped;
  const configuration = c.configuration();
  if (!wantsUserinfo(c.config.userinfo, mapped, Boolean(configuration.serverMetadata().userinfo_endpoint))) return mapped;
  // Without a subject (client-credentials tokens) there is nobody to ask about.
  if (typeof sub !== 'string') return mapped;
  let info: client.UserInfoResponse;
  try {
    info = await client.fetchUserInfo(configuration, token, sub);
    c.noteOutcome(undefined);
  } catch (err) {
    if (isIdpUnavailable(err)) {
      c.noteOutcome(err);
      throw new IdpUnavailableError(`The identity provider ${c.config.id} could not be asked about the bearer token; try again shortly.`, {
        cause: err,
      });
    }
    throw new GatehouseError('GH_BAD_TOKEN', "The bearer token was refused: the identity provider's userinfo endpoint did not accept it.", {
      cause: err,
      audit: { reason: 'userinfo_refused', idp: c.config.id },
    });
  }
  return mergeUserinfo(mapped, info, c.config);
}
