// /.gatehouse/* endpoints, answered by Gatehouse on every routed host and never proxied.
// Sign-in (login, OIDC callbacks, SAML ACS and metadata) arrives with issues #4 and #6.
import { handleLogin } from '../auth/login.ts';
import { handleLogout } from '../auth/logout.ts';
import { handleOidcCallback } from '../auth/oidc/callback.ts';
import { handleSamlAcs } from '../auth/saml/acs.ts';
import { handleSamlSlo } from '../auth/saml/slo.ts';
import { GatehouseError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { INTERNAL_PREFIX, JWKS_PATH, LOGIN_PATH, LOGOUT_PATH, OIDC_PREFIX, SAML_PREFIX, USERINFO_PATH } from '../http/endpoints.ts';
import type { Exchange } from '../http/exchange.ts';
import { sendBody } from '../http/respond.ts';

export function isInternalPath(path: string): boolean {
  return path.startsWith(INTERNAL_PREFIX) || path === '/.gatehouse';
}

export async function handleInternal(ex: Exchange, rt: Runtime): Promise<void> {
  ex.decision = 'public';
  switch (ex.path) {
    case LOGOUT_PATH:
      return handleLogout(ex, rt.sessions, rt.providers, rt.config);
    case USERINFO_PATH:
      return userinfo(ex);
    case JWKS_PATH:
      sendBody(ex, 200, 'application/jwk-set+json', JSON.stringify(rt.keys.jwks), { 'cache-control': 'public, max-age=300' });
      return;
    case LOGIN_PATH:
      return handleLogin(ex, { config: rt.config, routes: rt.routes, providers: rt.providers, store: rt.sessions.pendingLogins });
  }
  if (ex.path.startsWith(OIDC_PREFIX)) {
    const [id, action, extra] = ex.path.slice(OIDC_PREFIX.length).split('/');
    const oidc = id ? rt.providers.oidc.get(id) : undefined;
    if (oidc && extra === undefined) {
      if (action === 'callback') {
        return handleOidcCallback(ex, oidc, { sessions: rt.sessions, loginCookie: rt.providers.loginCookie, checkReturnUrl: rt.providers.checkReturnUrl });
      }
      if (action === 'backchannel-logout') return rt.providers.backchannel.get(id!)!.handle(ex);
    }
  }
  if (ex.path.startsWith(SAML_PREFIX)) {
    const [id, action, extra] = ex.path.slice(SAML_PREFIX.length).split('/');
    const sp = id ? rt.providers.saml.get(id) : undefined;
    if (sp && extra === undefined) {
      if (action === 'acs') return handleSamlAcs(ex, sp, { sessions: rt.sessions, loginCookie: rt.providers.loginCookie, checkReturnUrl: rt.providers.checkReturnUrl });
      if (action === 'slo') return handleSamlSlo(ex, sp, rt.sessions);
      if (action === 'metadata') {
        sendBody(ex, 200, 'application/samlmetadata+xml; charset=utf-8', sp.metadata(), { 'content-disposition': `inline; filename="gatehouse-${id}-sp-metadata.xml"` });
        return;
      }
    }
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
