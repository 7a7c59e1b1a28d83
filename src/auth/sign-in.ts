// The end of every browser sign-in, whatever the protocol (OIDC callback, SAML ACS): a fresh
// session, its cookie, the identity on the exchange (for the request's audit record), the
// login_succeeded event, and the redirect back to where the user started. One place, so the two
// protocols cannot drift apart on what a sign-in leaves behind.
import { ACCOUNT_DISABLED } from '../directory/offboard.ts';
import { GatehouseError } from '../errors.ts';
import type { Exchange } from '../http/exchange.ts';
import { sendRedirect } from '../http/respond.ts';
import type { SessionManager } from '../session/manager.ts';
import type { LoginCookie } from './login-state.ts';
import type { ReturnUrlCheck } from './return-url.ts';

/** What the sign-in endpoints need besides their provider. */
export interface SignInContext {
  readonly sessions: SessionManager;
  readonly loginCookie: LoginCookie;
  readonly checkReturnUrl: ReturnUrlCheck;
  /** False when the IdP's directory (SCIM) deactivated the user: no session is made (issue 19). */
  readonly mayStartSession?: ((user: string) => Promise<boolean>) | undefined;
}

export interface CompletedSignIn {
  readonly identity: {
    readonly user: string;
    readonly email?: string | undefined;
    readonly name?: string | undefined;
    readonly groups: readonly string[];
  };
  readonly idp: string;
  readonly method: 'oidc' | 'saml';
  /** The IdP's name for the user (OIDC sub, SAML NameID) and for its own session (sid, SessionIndex). */
  readonly subject?: string | undefined;
  readonly idpSession?: string | undefined;
  /** IdP tokens kept (sealed) for refresh and logout. */
  readonly tokens: Readonly<Record<string, string>>;
  readonly refreshAt?: number | undefined;
  /** Where the user started (checked again here). */
  readonly returnUrl: string;
  /** 302, or 303 after a POST (the browser must continue with a GET). */
  readonly status: 302 | 303;
  /**
   * The pending sign-in is over: its binding cookie has nothing left to bind — unless sign-ins
   * started in other tabs of this browser still wait for it (then false).
   */
  readonly clearLoginCookie: boolean;
  /** Audit reason of login_succeeded (SAML: sp_initiated or idp_initiated). */
  readonly reason?: string;
}

export async function completeSignIn(ex: Exchange, ctx: SignInContext, s: CompletedSignIn): Promise<void> {
  const { identity } = s;
  if (ctx.mayStartSession && !(await ctx.mayStartSession(identity.user))) {
    ex.event({ action: 'login_failed', outcome: 'failure', reason: 'account_disabled', idp: s.idp, user: { ...identity, idp: s.idp } });
    throw new GatehouseError('GH_ACCOUNT_DISABLED', ACCOUNT_DISABLED);
  }
  const session = await ctx.sessions.create({
    user: identity.user,
    email: identity.email,
    name: identity.name,
    groups: identity.groups,
    idp: s.idp,
    method: s.method,
    subject: s.subject,
    idpSession: s.idpSession,
    tokens: s.tokens,
    ...(s.refreshAt !== undefined ? { refreshAt: s.refreshAt } : {}),
  });
  (ex.setCookies ??= []).push(ctx.sessions.cookie.serialize(session.cookieValue, ctx.sessions.absoluteMs));
  if (s.clearLoginCookie) ex.setCookies.push(ctx.loginCookie.clear());
  ex.identity = session.record;
  ex.session = { key: session.key, record: session.record };
  ex.event({
    action: 'login_succeeded',
    outcome: 'success',
    idp: s.idp,
    session: session.key,
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
  });
  sendRedirect(ex, s.status, ctx.checkReturnUrl(s.returnUrl));
}
