// Service identities: a client-credentials token names a client, not a person — often no e-mail,
// no groups, a subject that is the client id. `identity_providers[].service_accounts` maps such a
// client id to the user name and groups it counts as, so routes give services access by group
// like anyone else. The client is read from `client_id` (RFC 9068), else `azp`, else `appid`
// (Entra v1). A token that names a user of its own (the IdP's user claim) is a person's token
// obtained by that client, and is left alone.
import type { OidcProviderConfig } from '../../config/types.ts';
import type { MappedIdentity } from '../oidc/claims.ts';

/** `mapped` as the service account its client is configured as, or unchanged. */
export function asServiceAccount(cfg: OidcProviderConfig, claims: Record<string, unknown>, mapped: MappedIdentity): MappedIdentity {
  const accounts = cfg.serviceAccounts;
  if (mapped.user !== undefined) return mapped;
  const client = [claims.client_id, claims.azp, claims.appid].find((v): v is string => typeof v === 'string' && v !== '');
  const account = client === undefined || !Object.hasOwn(accounts, client) ? undefined : accounts[client];
  if (!account) return mapped;
  return { ...mapped, user: account.user ?? client, groups: [...new Set([...(mapped.groups ?? []), ...account.groups])] };
}
