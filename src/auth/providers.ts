// The configured identity providers, built once per runtime: each as an IdentityProvider
// (provider.ts) for login, logout and /.gatehouse/<kind>/<id>/<action>, around its protocol core —
// an OIDC client (discovery running in the background) or a SAML service provider — which a reload
// takes over when the provider's settings did not change. Also the token refresher, and the one
// AuthContext (sessions, login cookie, return-URL check) every provider's endpoints share.
import type { AuthEventInput } from '../audit/events.ts';
import type { Config, IdentityProviderConfig } from '../config/types.ts';
import { settingsFingerprint } from '../config/secret.ts';
import type { Logger } from '../log.ts';
import type { SessionManager } from '../session/manager.ts';
import { createLoginCookie } from './login-state.ts';
import type { AuthContext, IdentityProvider } from './provider.ts';
import { createReturnUrlCheck } from './return-url.ts';
import { createOidcClient, type IdpHealth, type OidcClient } from './oidc/client.ts';
import { createOidcIdentityProvider } from './oidc/provider.ts';
import { createRefresher, type Refresher } from './oidc/refresh.ts';
import { createSamlIdentityProvider } from './saml/provider.ts';
import { createSamlProvider, type SamlProvider } from './saml/sp.ts';

export interface IdentityProviders {
  /** Every provider by id, in config order. */
  readonly byId: ReadonlyMap<string, IdentityProvider>;
  /** The protocol cores: OIDC clients (bearer tokens, token refresh) and SAML service providers. */
  readonly oidc: ReadonlyMap<string, OidcClient>;
  readonly saml: ReadonlyMap<string, SamlProvider>;
  readonly refresher: Refresher;
  /** What the providers' endpoints and /.gatehouse/login share. */
  readonly auth: AuthContext;
  /** Ids and display names, in config order. */
  readonly list: readonly { readonly id: string; readonly displayName: string }[];
  /** Settings fingerprint per provider id (reload reuse). */
  readonly fingerprints: ReadonlyMap<string, string>;
  /** Providers taken over from the previous runtime on reload. */
  readonly reused: ReadonlySet<string>;
  /**
   * Can each IdP be reached, in config order (/readyz, gatehouse_idp_up)? OIDC: discovery, regular
   * health checks and the token endpoint's answers; SAML: whether its metadata is known (the
   * browser, not Gatehouse, talks to a SAML IdP).
   */
  health(): ReadonlyArray<{ readonly id: string; readonly type: 'oidc' | 'saml' } & IdpHealth>;
  /** Stop background work, except for providers a newer runtime took over. */
  close(keep?: ReadonlySet<string>): void;
}

/** Stable text of a provider's settings (secrets included) to decide whether a reload may reuse it. */
export function providerFingerprint(p: IdentityProviderConfig, publicUrl: string): string {
  return settingsFingerprint(p) + publicUrl;
}

export function createIdentityProviders(
  config: Config,
  sessions: SessionManager,
  log: Logger,
  onAuthEvent: (e: AuthEventInput) => void,
  previous?: IdentityProviders,
  mayStartSession?: (user: string) => Promise<boolean>,
): IdentityProviders {
  const started = Date.now();
  const { oidc, saml, fingerprints, reused } = protocolCores(config, log, previous);
  const auth: AuthContext = {
    config,
    sessions,
    loginCookie: createLoginCookie(config.session.cookie),
    checkReturnUrl: createReturnUrlCheck(config),
    mayStartSession,
  };
  const byId = new Map<string, IdentityProvider>();
  for (const p of config.identityProviders) {
    const client = oidc.get(p.id);
    const sp = saml.get(p.id);
    if (client) byId.set(p.id, createOidcIdentityProvider(client, auth));
    else if (sp) byId.set(p.id, createSamlIdentityProvider(sp, auth));
  }
  return {
    byId,
    oidc,
    saml,
    refresher: createRefresher(oidc, sessions, log, onAuthEvent),
    auth,
    list: config.identityProviders.map((p) => ({ id: p.id, displayName: p.displayName })),
    fingerprints,
    reused,
    health: () => config.identityProviders.map((p) => providerHealth(p.id, oidc, saml, started)),
    close(keep = new Set<string>()) {
      for (const [id, c] of oidc) if (!keep.has(id)) c.close();
      for (const [id, s] of saml) if (!keep.has(id)) s.close();
    },
  };
}

interface ProtocolCores {
  readonly oidc: Map<string, OidcClient>;
  readonly saml: Map<string, SamlProvider>;
  readonly fingerprints: Map<string, string>;
  readonly reused: Set<string>;
}

/**
 * Each provider's OIDC client or SAML service provider: taken over from the previous runtime when
 * its settings did not change (no new discovery, same JWKS cache), else started. If starting one
 * fails, those this call started are stopped again before the error goes on.
 */
function protocolCores(config: Config, log: Logger, previous: IdentityProviders | undefined): ProtocolCores {
  const cores: ProtocolCores = { oidc: new Map(), saml: new Map(), fingerprints: new Map(), reused: new Set() };
  const { oidc, saml, reused } = cores;
  try {
    for (const p of config.identityProviders) {
      const fp = providerFingerprint(p, config.server.publicUrl);
      cores.fingerprints.set(p.id, fp);
      const keep = previous?.fingerprints.get(p.id) === fp;
      if (keep) reused.add(p.id);
      if (p.type === 'saml')
        saml.set(p.id, (keep ? previous?.saml.get(p.id) : undefined) ?? createSamlProvider(p, config.server.publicUrl, log));
      else oidc.set(p.id, (keep ? previous?.oidc.get(p.id) : undefined) ?? createOidcClient(p, log));
    }
  } catch (err) {
    // Stop what this call started (not what it took over from the previous runtime).
    for (const [id, c] of oidc) if (!reused.has(id)) c.close();
    for (const [id, s] of saml) if (!reused.has(id)) s.close();
    throw err;
  }
  return cores;
}

/** One provider's line in health(): an OIDC client's own record, or whether a SAML IdP's metadata is known. */
function providerHealth(
  id: string,
  oidc: ReadonlyMap<string, OidcClient>,
  saml: ReadonlyMap<string, SamlProvider>,
  started: number,
): { readonly id: string; readonly type: 'oidc' | 'saml' } & IdpHealth {
  const o = oidc.get(id);
  if (o) return { id, type: 'oidc' as const, ...o.health() };
  try {
    saml.get(id)?.idp();
    return { id, type: 'saml' as const, status: 'ok' as const, since: started };
  } catch (err) {
    return { id, type: 'saml' as const, status: 'unreachable' as const, since: started, error: (err as Error).message };
  }
}
