// /.gatehouse/login?rd=<return URL>&idp=<id>: pick the identity provider (the one named, the only
// one allowed for the target route, or let the user choose on a small page) and start sign-in.
import { GatehouseError } from '../errors.ts';
import type { Config } from '../config/compile.ts';
import type { RouteTable } from '../route/table.ts';
import type { SessionStore } from '../session/store.ts';
import type { IdentityProviders } from './providers.ts';
import type { Exchange } from '../server/exchange.ts';
import { LOGIN_PATH } from '../server/endpoints.ts';
import { escapeHtml, renderPage } from '../server/pages.ts';
import { sendBody } from '../server/respond.ts';
import { hostOf } from '../route/table.ts';
import { publicBase } from './base-url.ts';
import { startOidcLogin } from './oidc/login.ts';
import { startSamlLogin } from './saml/login.ts';

export interface LoginDeps {
  readonly config: Config;
  readonly routes: RouteTable;
  readonly providers: IdentityProviders;
  readonly store: SessionStore;
}

export async function handleLogin(ex: Exchange, rt: LoginDeps): Promise<void> {
  const params = new URLSearchParams(ex.query.slice(1));
  const providers = rt.providers;
  const rd = providers.checkReturnUrl(params.get('rd'));
  const allowed = allowedProviders(rt, ex, rd);
  if (allowed.length === 0) throw new GatehouseError('GH_NOT_FOUND', 'Sign-in is not available: no identity provider is configured for this application.');
  const wanted = params.get('idp');
  let id: string;
  if (wanted !== null) {
    if (!allowed.some((p) => p.id === wanted)) throw new GatehouseError('GH_BAD_REQUEST', `Unknown identity provider "${wanted}" for this application.`);
    id = wanted;
  } else if (allowed.length === 1) {
    id = allowed[0]!.id;
  } else {
    sendChooser(ex, allowed, rd);
    return;
  }
  const sp = providers.saml.get(id);
  if (sp) {
    await startSamlLogin(ex, sp, rd, rt.store, providers.loginCookie);
    return;
  }
  const oidc = providers.oidc.get(id);
  if (!oidc) throw new GatehouseError('GH_BAD_REQUEST', `Identity provider "${id}" cannot start a sign-in here.`);
  await startOidcLogin(ex, oidc, rd, publicBase(ex, rt.config), rt.store, providers.loginCookie);
}

/** Providers the route behind `rd` accepts (route `idps:`), in config order. */
function allowedProviders(rt: LoginDeps, ex: Exchange, rd: string): readonly { id: string; displayName: string }[] {
  let host = ex.host;
  let path = rd;
  if (!rd.startsWith('/')) {
    const u = new URL(rd);
    host = hostOf(u.host);
    path = u.pathname;
  }
  const route = rt.routes.match(host, path.split('?')[0]!.split('#')[0]!) ?? ex.route;
  const only = route?.idps;
  return only ? rt.providers.list.filter((p) => only.includes(p.id)) : rt.providers.list;
}

function sendChooser(ex: Exchange, providers: readonly { id: string; displayName: string }[], rd: string): void {
  const links = providers
    .map((p) => `<li><a class="idp" href="${LOGIN_PATH}?idp=${encodeURIComponent(p.id)}&amp;rd=${encodeURIComponent(rd)}">${escapeHtml(p.displayName)}</a></li>`)
    .join('\n');
  sendBody(ex, 200, 'text/html; charset=utf-8', renderPage('Sign in', `<p>Choose how to sign in:</p>\n<ul>${links}</ul>`));
}
