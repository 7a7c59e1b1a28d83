// Every path Gatehouse answers itself, in one place. Public-listener paths live under a prefix
// that is never proxied; admin paths exist only on the admin listener.

/** Reserved on every routed host; requests under it are never sent upstream. */
export const INTERNAL_PREFIX = '/.gatehouse/';

export const LOGIN_PATH = '/.gatehouse/login';
export const LOGOUT_PATH = '/.gatehouse/logout';
export const USERINFO_PATH = '/.gatehouse/userinfo';
export const JWKS_PATH = '/.gatehouse/jwks';
/** The signed-in user's personal access tokens (page and JSON); /.gatehouse/tokens/<id> revokes one. */
export const TOKENS_PATH = '/.gatehouse/tokens';
/** Forward-auth for nginx auth_request, Traefik forwardAuth, Envoy ext_authz. */
export const AUTH_PATH = '/.gatehouse/auth';
/** /.gatehouse/oidc/<id>/callback and /.gatehouse/oidc/<id>/backchannel-logout */
export const OIDC_PREFIX = '/.gatehouse/oidc/';
export const oidcCallbackPath = (id: string) => `${OIDC_PREFIX}${id}/callback`;
/** /.gatehouse/saml/<id>/acs, /metadata and /slo */
export const SAML_PREFIX = '/.gatehouse/saml/';
/** Shared Signals push endpoint (RFC 8935): transmitters POST Security Event Tokens here. */
export const SSF_EVENTS_PATH = '/.gatehouse/ssf/events';
export const oidcBackchannelPath = (id: string) => `${OIDC_PREFIX}${id}/backchannel-logout`;

export const ADMIN_PATHS = {
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
  adminPrefix: '/admin/',
  sessions: '/admin/sessions',
  sessionPrefix: '/admin/sessions/',
  userPrefix: '/admin/users/',
  reload: '/admin/reload',
  tokens: '/admin/tokens',
  tokenPrefix: '/admin/tokens/',
} as const;

/** Response and upstream request header carrying the request id. */
export const REQUEST_ID_HEADER = 'x-request-id';
