// The one shape every identity provider has, whatever its protocol: start a sign-in, answer its
// own endpoints under /.gatehouse/<kind>/<id>/<action>, name the IdP's logout URL for a session.
// login.ts, logout.ts and server/internal.ts use only this, so a new protocol is a new
// implementation (auth/oidc/provider.ts, auth/saml/provider.ts), not a new branch in each of them.
import type { Config } from '../config/types.ts';
import type { Exchange } from '../http/exchange.ts';
import type { SessionRecord } from '../session/store.ts';
import type { SignInContext } from './sign-in.ts';

export type ProviderKind = 'oidc' | 'saml';

/** Answers one /.gatehouse/<kind>/<id>/<action> request (it checks the method itself). */
export type EndpointHandler = (ex: Exchange) => Promise<void>;

export interface IdentityProvider {
  readonly id: string;
  readonly displayName: string;
  readonly kind: ProviderKind;
  /** Send the browser to the IdP; `returnUrl` was checked (return-url.ts). */
  startLogin(ex: Exchange, returnUrl: string): Promise<void>;
  /** By action: OIDC callback and backchannel-logout; SAML acs, slo and metadata. */
  readonly endpoints: Readonly<Record<string, EndpointHandler>>;
  /**
   * Where to send the browser to end the IdP's session too, or undefined (no such endpoint, the
   * IdP unreachable): the local session ends either way. Called before the session is revoked.
   */
  logoutUrl(ex: Exchange, session: { readonly key: string; readonly record: SessionRecord }): Promise<string | undefined>;
  ready(): Promise<void>;
  close(): void;
}

/** What providers' endpoints need from the runtime, built once per runtime. */
export interface AuthContext extends SignInContext {
  readonly config: Config;
}

/** The endpoint for `action`, when the provider has one (own keys only: no "constructor"). */
export function endpointOf(provider: IdentityProvider, action: string): EndpointHandler | undefined {
  return Object.hasOwn(provider.endpoints, action) ? provider.endpoints[action] : undefined;
}
