// A real OpenID provider (the demo IdP, npm oidc-provider) plus a Gatehouse configured against it,
// both on 127.0.0.1. The Gatehouse port is chosen first so its public_url (and so the registered
// redirect URI) is known to the IdP.
import { generateKeyPair, exportJWK, type CryptoKey } from 'jose';
import { onTestFinished } from 'vitest';
import type { Logger } from '../../src/log.ts';
import { startDemoIdp, DEMO_PASSWORD, type DemoIdp, type DemoIdpOptions } from '../../src/demo/idp.ts';
import { freePort } from './ports.ts';
import { startTestGatehouse, type StartedGatehouse } from './start-gatehouse.ts';

export const CLIENT_ID = 'gatehouse-test';
export const CLIENT_SECRET = 'gatehouse-test-client-secret';
export const USERS = {
  alice: { username: 'alice', password: DEMO_PASSWORD },
  bob: { username: 'bob', password: DEMO_PASSWORD },
  carol: { username: 'carol', password: DEMO_PASSWORD },
};

/** An RSA signing key for the IdP, so tests can also sign tokens "as the IdP". */
export async function idpSigningKey(): Promise<{ jwks: { keys: object[] }; privateKey: CryptoKey; kid: string }> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = `test-${Math.random().toString(36).slice(2, 8)}`;
  return { jwks: { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] }, privateKey, kid };
}

export interface OidcSetup {
  readonly idp: DemoIdp;
  readonly gh: StartedGatehouse;
  /** Extra Gatehouse instances sharing the session store (when started with `replicas`). */
  readonly others: StartedGatehouse[];
}

export interface OidcSetupOptions {
  readonly idp?: Partial<DemoIdpOptions>;
  /** Raw config pieces merged over the default (session, routes, identity provider fields). */
  readonly routes?: object[];
  readonly session?: object;
  readonly provider?: object;
  /** More identity providers; a function gets the demo IdP's issuer (to add a second client of it). */
  readonly extraProviders?: object[] | ((issuer: string) => object[]);
  /** Start this many more Gatehouse instances with the same config (needs a shared store). */
  readonly replicas?: number;
  /** Gatehouse port for the backchannel_logout_uri (defaults to the first instance). */
  readonly backchannelTo?: 'first' | 'second';
  /** Raw `audit` config (default: no sinks). */
  readonly audit?: object;
  /** Raw `scim` config (default: SCIM off). */
  readonly scim?: object;
  /** Where Gatehouse logs (default: nowhere); log_level is then debug, so tests see every line. */
  readonly log?: Logger;
  /** More top-level config sections (e.g. `ssf`), given the demo IdP's issuer. */
  readonly extra?: (issuer: string) => object;
}

/**
 * The Gatehouse ports are chosen before the IdP starts (its redirect URIs name them), so another
 * process may take one in between: then the whole setup is tried again (at most three times).
 */
export async function startOidcSetup(upstreamUrl: string, o: OidcSetupOptions = {}): Promise<OidcSetup> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOidcSetupOnce(upstreamUrl, o);
    } catch (err) {
      if (attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

async function startOidcSetupOnce(upstreamUrl: string, o: OidcSetupOptions): Promise<OidcSetup> {
  const ports = await Promise.all(Array.from({ length: 1 + (o.replicas ?? 0) }, () => freePort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const bcUrl = urls[o.backchannelTo === 'second' ? 1 : 0]!;
  const idp = await startDemoIdp({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: urls.map((u) => `${u}/.gatehouse/oidc/corp/callback`),
        post_logout_redirect_uris: urls.map((u) => `${u}/.gatehouse/logout`),
        backchannel_logout_uri: `${bcUrl}/.gatehouse/oidc/corp/backchannel-logout`,
      },
    ],
    ...o.idp,
  });
  onTestFinished(() => idp.close());
  const configFor = (url: string, port: number) => ({
    log_level: o.log ? 'debug' : 'silent',
    ...(o.audit ? { audit: o.audit } : {}),
    ...(o.scim ? { scim: o.scim } : {}),
    server: { listen: `127.0.0.1:${port}`, public_url: url, shutdown_timeout: '1s' },
    admin: { listen: '127.0.0.1:0', token: 'oidc-test-admin-token' },
    session: { store: 'memory', secret: 'oidc-test-session-secret-0123456789abcdef', cookie: { secure: false }, ...o.session },
    identity_providers: [
      {
        id: 'corp',
        type: 'oidc',
        issuer: idp.issuer,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        scopes: ['openid', 'email', 'profile', 'groups'],
        ...o.provider,
      },
      ...(typeof o.extraProviders === 'function' ? o.extraProviders(idp.issuer) : (o.extraProviders ?? [])),
    ],
    routes: o.routes ?? [
      { name: 'admin', path: '/admin', upstream: upstreamUrl, allow: { groups: ['ml-admins'] } },
      { name: 'app', path: '/', upstream: upstreamUrl, allow: { authenticated: true } },
    ],
    ...o.extra?.(idp.issuer),
  });
  const all = await Promise.all(ports.map((p, i) => startTestGatehouse(configFor(urls[i]!, p), o.log ? { log: o.log } : {})));
  for (const gh of all) await gh.current().providers.oidc.get('corp')!.ready();
  return { idp, gh: all[0]!, others: all.slice(1) };
}
