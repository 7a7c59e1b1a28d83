// Facts for every kind of record Gatehouse writes, shaped as the code that writes them shapes them
// (server/pipeline.ts, auth/*, admin/server.ts, cli/start.ts, audit/writer.ts): the scenario a
// security engineer would replay — anonymous redirect and 401, public, sign-ins, allow, deny, POST,
// PATCH, 502, refused paths and callbacks, bad bearer, WebSocket, admin calls, logout, reloads.
import type { AuthFacts, RequestFacts, UserFacts } from '../../src/audit/record.ts';

const T0 = Date.UTC(2026, 2, 4, 9, 30, 0, 125);
const alice: UserFacts = { name: 'alice@example.com', email: 'alice@example.com', groups: ['ml-admins', 'data-scientists'], idp: 'corp' };
const bob: UserFacts = { name: 'bob', email: undefined, groups: [], idp: 'saml-corp' };
const SESSION = 'c0ffee'.repeat(10) + 'abcd';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0';

function request(name: string, over: Partial<RequestFacts>): readonly [string, RequestFacts] {
  return [name, {
    kind: 'request', time: T0, requestId: `01J${name.length}X7Q2K9`, route: 'mlflow', method: 'GET', host: 'ml.corp.example', path: '/api/2.0/runs',
    queryKeys: [], status: 200, decision: 'allow', reason: 'groups-allowed', rule: 0, errorCode: undefined, user: alice, authMethod: 'session',
    session: SESSION, clientIp: '10.1.2.3', userAgent: UA, upstream: 'http://127.0.0.1:5000/', bytesIn: 412, bytesOut: 3400, durationMs: 12.5,
    websocket: false, ...over,
  }];
}

function auth(name: string, over: Partial<AuthFacts> & Pick<AuthFacts, 'action' | 'outcome'>): readonly [string, AuthFacts] {
  return [name, {
    kind: 'auth', time: T0, reason: undefined, user: undefined, idp: undefined, session: undefined, requestId: '01J7X7Q2K9',
    clientIp: '10.1.2.3', userAgent: UA, message: undefined, ...over,
  }];
}

const anonymous = { user: undefined, authMethod: undefined, session: undefined } as const;

export const REQUEST_CASES: readonly (readonly [string, RequestFacts])[] = [
  request('anonymous browser redirected to sign-in', { ...anonymous, status: 302, decision: 'unauthenticated', reason: 'user-unauthenticated', path: '/' }),
  request('anonymous API call 401', { ...anonymous, status: 401, decision: 'unauthenticated', reason: 'user-unauthenticated', errorCode: 'GH_UNAUTHENTICATED' }),
  request('public route', { ...anonymous, route: 'docs', decision: 'public', reason: 'public-route', path: '/docs/index.html' }),
  request('allowed GET', { queryKeys: ['run_id'] }),
  request('allowed GET, every optional fact', {
    user: { ...alice, id: '248289761001' }, proxied: true, scheme: 'https', port: 443, sourcePort: 51_234, httpVersion: '1.1',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  }),
  request('policy 403 naming the groups that would have allowed it', { status: 403, decision: 'deny', reason: 'groups-unauthorized', errorCode: 'GH_FORBIDDEN', user: bob, grantingGroups: ['ml-admins'], proxied: false }),
  request('allowed with a bearer token', { authMethod: 'bearer', session: undefined }),
  request('policy 403', { status: 403, decision: 'deny', reason: 'groups-unauthorized', errorCode: 'GH_FORBIDDEN', user: bob, session: 'b'.repeat(64) }),
  request('explicit deny rule', { status: 403, decision: 'deny', reason: 'denied', rule: 1, errorCode: 'GH_FORBIDDEN' }),
  request('allowed POST', { method: 'POST', status: 201, bytesIn: 5120 }),
  request('allowed PATCH', { method: 'PATCH', status: 200 }),
  request('upstream unreachable 502', { status: 502, errorCode: 'GH_UPSTREAM_UNREACHABLE', bytesOut: 900 }),
  request('upstream timeout 504', { status: 504, errorCode: 'GH_UPSTREAM_TIMEOUT' }),
  request('client went away 499', { status: 499, bytesOut: 0 }),
  request('ambiguous path refused 400', { ...anonymous, route: undefined, upstream: undefined, status: 400, decision: 'error', reason: undefined, rule: undefined, errorCode: 'GH_BAD_PATH', path: '/a/%2e%2e/admin' }),
  request('bad bearer 401', { ...anonymous, status: 401, decision: 'error', reason: undefined, rule: undefined, errorCode: 'GH_BAD_TOKEN' }),
  request('forged OIDC callback refused 400', { ...anonymous, status: 400, decision: 'public', reason: undefined, rule: undefined, errorCode: 'GH_LOGIN_FAILED', path: '/.gatehouse/oidc/corp/callback', queryKeys: ['code', 'state'] }),
  request('sign-in page redirect to the IdP', { ...anonymous, status: 302, decision: 'public', reason: undefined, rule: undefined, path: '/.gatehouse/login', queryKeys: ['rd'] }),
  request('no route 404', { ...anonymous, route: undefined, upstream: undefined, status: 404, decision: 'error', reason: undefined, rule: undefined, errorCode: 'GH_NO_ROUTE', host: 'unknown.corp.example' }),
  request('WebSocket opened', { status: 101, websocket: true, websocketOpen: true, path: '/api/kernels/1/channels', durationMs: 12, bytesIn: 600, bytesOut: 180 }),
  request('WebSocket session closed', { status: 101, websocket: true, path: '/api/kernels/1/channels', durationMs: 65_000, bytesIn: 9000, bytesOut: 120_000 }),
  request('request head too large (parser refusal)', {
    ...anonymous, route: undefined, method: '', host: '', path: '', status: 431, decision: 'error', reason: undefined, rule: undefined,
    errorCode: 'GH_REQUEST_HEADERS_TOO_LARGE', userAgent: undefined, upstream: undefined, bytesIn: 20_000, bytesOut: 0, durationMs: 0,
  }),
];

export const AUTH_CASES: readonly (readonly [string, AuthFacts])[] = [
  auth('OIDC login started', { action: 'login_started', outcome: 'success', idp: 'corp' }),
  auth('SAML login started', { action: 'login_started', outcome: 'success', idp: 'saml-corp' }),
  auth('OIDC login succeeded', { action: 'login_succeeded', outcome: 'success', idp: 'corp', user: alice, session: SESSION }),
  auth('SAML IdP-initiated login succeeded', { action: 'login_succeeded', outcome: 'success', idp: 'saml-corp', user: bob, session: 'b'.repeat(64), reason: 'idp_initiated' }),
  auth('forged callback', { action: 'login_failed', outcome: 'failure', reason: 'login_failed', message: 'sign-in state unknown or already used' }),
  auth('IdP access_denied', { action: 'login_failed', outcome: 'failure', reason: 'login_failed', message: 'the identity provider refused the sign-in: access_denied' }),
  auth('bearer rejected', { action: 'bearer_rejected', outcome: 'failure', reason: 'invalid_token', message: 'token signature invalid' }),
  auth('logout', { action: 'logout', outcome: 'success', reason: 'user', user: alice, idp: 'corp', session: SESSION }),
  auth('session expired (idle)', { action: 'session_expired', outcome: 'success', reason: 'idle', session: SESSION }),
  auth('session revoked, dead cookie used', { action: 'session_revoked', outcome: 'success', reason: 'revoked', session: SESSION }),
  auth('back-channel logout', { action: 'session_revoked', outcome: 'success', reason: 'backchannel', idp: 'corp', session: SESSION, userAgent: undefined }),
  auth('refresh failed', { action: 'session_revoked', outcome: 'success', reason: 'refresh_failed', user: alice, idp: 'corp', session: SESSION, message: 'refresh token rejected', requestId: undefined, clientIp: undefined, userAgent: undefined }),
  auth('config reloaded', { action: 'config_reloaded', outcome: 'success', message: '4 routes', requestId: undefined, clientIp: undefined, userAgent: undefined }),
  auth('config reload failed', { action: 'config_reload_failed', outcome: 'failure', message: 'routes[2].upstream: not a URL', requestId: undefined, clientIp: undefined, userAgent: undefined }),
  auth('admin call', { action: 'admin_api', outcome: 'success', reason: 'POST /sessions/revoke', requestId: undefined, clientIp: '127.0.0.1', userAgent: undefined }),
  auth('admin call with a credential label', { action: 'admin_api', outcome: 'success', reason: 'DELETE /sessions/abc', credential: 'ops-laptop', requestId: undefined, clientIp: '127.0.0.1', userAgent: undefined }),
  auth('admin call without a valid token', { action: 'admin_api', outcome: 'failure', reason: 'unauthorized', message: 'GET /sessions', requestId: undefined, clientIp: '127.0.0.1', userAgent: undefined }),
  auth('requests refused (audit unavailable)', {
    action: 'requests_refused', outcome: 'failure', reason: 'audit_unavailable', requestId: undefined, clientIp: undefined, userAgent: undefined,
    message: '12 request(s) refused with 503 between 2026-03-04T09:29:50.000Z and 2026-03-04T09:30:00.125Z: the audit trail could not record them',
  }),
  auth('session revoked by an admin', { action: 'session_revoked', outcome: 'success', reason: 'admin', user: { ...bob, id: 'sub-bob' }, idp: 'saml-corp', session: SESSION, requestId: undefined, clientIp: '127.0.0.1', userAgent: undefined }),
  auth('admin revoke of a user\'s sessions, answered', {
    action: 'admin_api', outcome: 'success', reason: 'DELETE /admin/users/bob%40example.com/sessions', credential: 'admin.token', targetUser: 'bob@example.com', count: 2, status: 200,
    requestId: undefined, clientIp: '127.0.0.1', userAgent: undefined,
  }),
  auth('admin call for an unknown session (404)', {
    action: 'admin_api', outcome: 'failure', reason: 'status_404', message: 'DELETE /admin/sessions/abc', credential: 'admin.token', count: 0, status: 404,
    requestId: undefined, clientIp: '127.0.0.1', userAgent: undefined,
  }),
  auth('audit trail closed on shutdown', { action: 'audit_stopped', outcome: 'success', reason: 'shutdown', message: 'audit trail closed after 1234 records', requestId: undefined, clientIp: undefined, userAgent: undefined }),
];

export const ALL_CASES = [...REQUEST_CASES, ...AUTH_CASES];
