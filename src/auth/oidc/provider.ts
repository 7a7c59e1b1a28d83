// An OIDC IdP as an IdentityProvider (auth/provider.ts): sign-in with the authorization code flow,
// its redirect URI (callback) and back-channel logout endpoint, and RP-initiated logout at the
// IdP's end_session_endpoint (with id_token_hint). Built per runtime around an OidcClient, which a
// reload may take over unchanged (discovery and the JWKS cache survive it).
import * as client from 'openid-client';
import { LOGOUT_PATH } from '../../http/endpoints.ts';
import type { Exchange } from '../../http/exchange.ts';
import type { SessionRecord } from '../../session/store.ts';
import { publicBase } from '../base-url.ts';
import type { AuthContext, IdentityProvider } from '../provider.ts';
import { createBackchannelHandler } from './backchannel.ts';
import { handleOidcCallback } from './callback.ts';
import type { OidcClient } from './client.ts';
import { startOidcLogin } from './login.ts';

export function createOidcIdentityProvider(oidc: OidcClient, ctx: AuthContext): IdentityProvider {
  const backchannel = createBackchannelHandler(oidc, ctx.sessions);
  return {
    id: oidc.config.id,
    displayName: oidc.config.displayName,
    kind: 'oidc',
    startLogin: (ex, returnUrl) => startOidcLogin(ex, oidc, returnUrl, ctx),
    endpoints: {
      callback: (ex) => handleOidcCallback(ex, oidc, ctx),
      'backchannel-logout': (ex) => backchannel.handle(ex),
    },
    logoutUrl: async (ex, session) => endSessionUrl(ex, oidc, ctx, session),
    ready: () => oidc.ready(),
    close: () => oidc.close(),
  };
}

/** The IdP's end-session URL for this session, when it has one. */
function endSessionUrl(
  ex: Exchange,
  oidc: OidcClient,
  ctx: AuthContext,
  { key, record }: { readonly key: string; readonly record: SessionRecord },
): string | undefined {
  let configuration;
  try {
    configuration = oidc.configuration();
  } catch {
    return undefined; // IdP unreachable: the local session still ends
  }
  if (!configuration.serverMetadata().end_session_endpoint) return undefined;
  const idToken = ctx.sessions.tokens(key, record)?.id_token;
  return client.buildEndSessionUrl(configuration, {
    post_logout_redirect_uri: oidc.config.postLogoutRedirectUri ?? `${publicBase(ex, ctx.config)}${LOGOUT_PATH}`,
    client_id: oidc.config.clientId,
    ...(idToken ? { id_token_hint: idToken } : {}),
  }).href;
}
