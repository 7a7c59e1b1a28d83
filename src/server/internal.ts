// /.gatehouse/* endpoints, answered by Gatehouse on every routed host and never proxied: sign-in
// and sign-out, userinfo, the assertion JWKS, and each identity provider's own endpoints at
// /.gatehouse/<kind>/<id>/<action> (auth/provider.ts: OIDC callback and back-channel logout, SAML
// ACS, SLO and metadata).
import { handleLogin } from '../auth/login.ts';
import { handleLogout } from '../auth/logout.ts';
import { handleTokensPage } from '../auth/pat-page.ts';
import { endpointOf, type ProviderKind } from '../auth/provider.ts';
import { GatehouseError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import {
  INTERNAL_PREFIX,
  JWKS_PATH,
  LOGIN_PATH,
  LOGOUT_PATH,
  OIDC_PREFIX,
  SAML_PREFIX,
  SSF_EVENTS_PATH,
  USERINFO_PATH,
} from '../http/endpoints.ts';
import { TOKENS_PATH } from '../http/endpoints.ts';
import type { Exchange } from '../http/exchange.ts';
import { sendBody } from '../http/respond.ts';

const PROVIDER_PREFIXES: readonly (readonly [string, ProviderKind])[] = [
  [OIDC_PREFIX, 'oidc'],
  [SAML_PREFIX, 'saml'],
];

export function isInternalPath(path: string): boolean {
  return path.startsWith(INTERNAL_PREFIX) || path === '/.gatehouse';
}

export async function handleInternal(ex: Exchange, rt: Runtime): Promise<void> {
  ex.decision = 'public';
  switch (ex.path) {
    case LOGOUT_PATH:
      return handleLogout(ex, rt.sessions, rt.providers);
    case USERINFO_PATH:
      return userinfo(ex);
    case JWKS_PATH:
      sendBody(ex, 200, 'application/jwk-set+json', JSON.stringify(rt.keys.jwks), { 'cache-control': 'public, max-age=300' });
      return;
    case LOGIN_PATH:
      return handleLogin(ex, { config: rt.config, routes: rt.routes, providers: rt.providers, store: rt.sessions.pendingLogins });
    case SSF_EVENTS_PATH:
      if (!rt.signals) break;
      return rt.signals.handle(ex);
  }
  if (ex.path === TOKENS_PATH || ex.path.startsWith(`${TOKENS_PATH}/`)) return handleTokensPage(ex, rt.pats, rt.sessions);
  for (const [prefix, kind] of PROVIDER_PREFIXES) {
    if (!ex.path.startsWith(prefix)) continue;
    const [id, action, extra] = ex.path.slice(prefix.length).split('/');
    const provider = id ? rt.providers.byId.get(id) : undefined;
    const endpoint = provider?.kind === kind && action !== undefined && extra === undefined ? endpointOf(provider, action) : undefined;
    if (endpoint) return endpoint(ex);
  }
  throw new GatehouseError('GH_NOT_FOUND', 'There is no Gatehouse endpoint at this path.');
}

function userinfo(ex: Exchange): void {
  if (!ex.identity || !ex.session) throw new GatehouseError('GH_UNAUTHENTICATED', 'Not signed in.');
  const r = ex.session.record;
  const body = {
    user: r.user,
    email: r.email ?? null,
    name: r.name ?? null,
    groups: r.groups,
    idp: r.idp,
    auth_method: r.method,
    session: {
      created_at: new Date(r.createdAt).toISOString(),
      absolute_expires_at: new Date(r.absoluteExpiresAt).toISOString(),
    },
  };
  sendBody(ex, 200, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}
