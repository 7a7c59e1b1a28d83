// The configured identity providers, built once per runtime: OIDC clients (discovery running in
// the background), their back-channel handlers, the token refresher, and SAML service providers.
import type { AuthEventInput } from '../audit/facts.ts';
import type { Config } from '../config/compile.ts';
import type { Logger } from '../log.ts';
import type { SessionManager } from '../session/manager.ts';
import { createLoginCookie, type LoginCookie } from './login-state.ts';
import { createReturnUrlCheck, type ReturnUrlCheck } from './return-url.ts';
import { createBackchannelHandler, type BackchannelHandler } from './oidc/backchannel.ts';
import { createOidcClient, type OidcClient } from './oidc/client.ts';
import { createRefresher, type Refresher } from './oidc/refresh.ts';
import { createSamlProvider, type SamlProvider } from './saml/provider.ts';

export interface IdentityProviders {
  readonly oidc: ReadonlyMap<string, OidcClient>;
  readonly saml: ReadonlyMap<string, SamlProvider>;
  readonly backchannel: ReadonlyMap<string, BackchannelHandler>;
  readonly refresher: Refresher;
  readonly loginCookie: LoginCookie;
  readonly checkReturnUrl: ReturnUrlCheck;
  /** Ids and display names, in config order. */
  readonly list: readonly { readonly id: string; readonly displayName: string }[];
  close(): void;
}

export function createIdentityProviders(config: Config, sessions: SessionManager, log: Logger, onAuthEvent: (e: AuthEventInput) => void): IdentityProviders {
  const oidc = new Map<string, OidcClient>();
  const backchannel = new Map<string, BackchannelHandler>();
  const saml = new Map<string, SamlProvider>();
  for (const p of config.identityProviders) {
    if (p.type === 'saml') {
      saml.set(p.id, createSamlProvider(p, config.server.publicUrl, log));
      continue;
    }
    const c = createOidcClient(p, log);
    oidc.set(p.id, c);
    backchannel.set(p.id, createBackchannelHandler(c, sessions));
  }
  return {
    oidc,
    saml,
    backchannel,
    refresher: createRefresher(oidc, sessions, log, onAuthEvent),
    loginCookie: createLoginCookie(config.session.cookie),
    checkReturnUrl: createReturnUrlCheck(config),
    list: config.identityProviders.map((p) => ({ id: p.id, displayName: p.displayName })),
    close() {
      for (const c of oidc.values()) c.close();
      for (const s of saml.values()) s.close();
    },
  };
}
