// The decisions of the OIDC redirect URI that need no network: which pending sign-in an answer
// belongs to, whether the UserInfo endpoint must be asked, and how its claims complete the ID
// token's. Pure, so each rule is a table row in test/auth/oidc/callback-checks.test.ts; callback.ts
// does the I/O around them.
import type { OidcProviderConfig } from '../../config/types.ts';
import type { PendingLogin, TakeResult } from '../login-state.ts';
import { asGroups, claimAt, mapClaims, type MappedIdentity } from './claims.ts';

export type PendingCheck =
  | { readonly ok: true; readonly state: string; readonly login: PendingLogin }
  | { readonly ok: false; readonly reason: string; readonly code: LoginFailureCode };

/** The audit reason codes of a refused callback (docs/audit.md). */
export type LoginFailureCode = 'no_state' | 'unknown_state' | 'other_browser' | 'wrong_idp';

/**
 * The pending sign-in for this callback: there must be a state, it must name a sign-in this browser
 * started (single use), with this IdP. Reasons are the user's page text.
 */
export function checkCallbackState(state: string | null, taken: TakeResult | undefined, idp: string): PendingCheck {
  if (!state || !taken)
    return {
      ok: false,
      code: 'no_state',
      reason: 'Sign-in failed: the answer from the identity provider has no state. Start again from the application.',
    };
  if (!taken.ok) {
    return {
      ok: false,
      code: taken.reason === 'unknown-state' ? 'unknown_state' : 'other_browser',
      reason:
        taken.reason === 'unknown-state'
          ? 'Sign-in failed: this sign-in link is unknown, expired or was already used. Start again from the application.'
          : 'Sign-in failed: this sign-in was started in another browser. Start again from the application.',
    };
  }
  if (taken.login.idp !== idp)
    return { ok: false, code: 'wrong_idp', reason: 'Sign-in failed: the answer came back to the wrong identity provider.' };
  return { ok: true, state, login: taken.login };
}

/** userinfo: always asks; auto asks only when the ID token has no groups and the IdP has the endpoint. */
export function wantsUserinfo(mode: OidcProviderConfig['userinfo'], fromIdToken: MappedIdentity, hasEndpoint: boolean): boolean {
  return mode === 'always' || (mode === 'auto' && fromIdToken.groups === undefined && hasEndpoint);
}

/** The ID token's claims win; UserInfo fills only what they leave out. */
export function mergeUserinfo(
  fromIdToken: MappedIdentity,
  info: Readonly<Record<string, unknown>>,
  config: Pick<OidcProviderConfig, 'claims' | 'splitGroupValuesOn'>,
): MappedIdentity {
  const fromInfo = mapClaims(info, config.claims, config.splitGroupValuesOn);
  return {
    user: fromIdToken.user ?? fromInfo.user,
    email: fromIdToken.email ?? fromInfo.email,
    name: fromIdToken.name ?? fromInfo.name,
    groups: fromIdToken.groups ?? fromInfo.groups ?? asGroups(claimAt(info, config.claims.groups), config.splitGroupValuesOn),
  };
}
