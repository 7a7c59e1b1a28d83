// What an audit record says, and how it is written: Elastic Common Schema (default) or OCSF
// (HTTP Activity 4002, Authentication 3002). Records are built from an explicit allow-list of
// facts — never raw headers, cookies, tokens, query values or SAMLResponses.

export type Decision = 'allow' | 'deny' | 'unauthenticated' | 'public' | 'error';

/** One proxied or answered request (or WebSocket session, written when it closes). */
export interface RequestFacts {
  readonly kind: 'request';
  readonly time: number;
  readonly requestId: string;
  readonly route: string | undefined;
  readonly method: string;
  readonly host: string;
  /** Normalised path (raw target when it was refused as ambiguous). */
  readonly path: string;
  /** Query parameter names only: values can hold tokens and personal data. */
  readonly queryKeys: readonly string[];
  readonly status: number;
  readonly decision: Decision;
  readonly reason: string | undefined;
  readonly rule: number | undefined;
  readonly errorCode: string | undefined;
  readonly user: UserFacts | undefined;
  readonly authMethod: 'session' | 'bearer' | undefined;
  /** The session's store key (SHA-256 of the cookie's id): names the session, is not a credential. */
  readonly session: string | undefined;
  readonly clientIp: string;
  readonly userAgent: string | undefined;
  readonly upstream: string | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly websocket: boolean;
  /** Gatehouse ended the live connection: 'session revoked' | 'session expired'. */
  readonly endReason?: string | undefined;
}

export interface UserFacts {
  readonly name: string;
  readonly email: string | undefined;
  readonly groups: readonly string[];
  readonly idp: string;
}

export type AuthAction =
  | 'login_started'
  | 'login_succeeded'
  | 'login_failed'
  | 'logout'
  | 'session_expired'
  | 'session_revoked'
  | 'bearer_rejected'
  | 'config_reloaded'
  | 'config_reload_failed'
  | 'admin_api'
  /** Requests refused because the audit trail could not take records (block mode), summed up. */
  | 'requests_refused';

/** A sign-in, sign-out, session end, token rejection, reload or admin call. */
export interface AuthFacts {
  readonly kind: 'auth';
  readonly time: number;
  readonly action: AuthAction;
  readonly outcome: 'success' | 'failure';
  /** Stable short reason: 'idle', 'absolute', 'admin', 'backchannel', 'refresh_failed', ... */
  readonly reason: string | undefined;
  readonly user: UserFacts | undefined;
  readonly idp: string | undefined;
  readonly session: string | undefined;
  readonly requestId: string | undefined;
  readonly clientIp: string | undefined;
  readonly userAgent: string | undefined;
  /** A human-readable detail without secrets (e.g. the login failure message). */
  readonly message: string | undefined;
}

export type AuditFacts = RequestFacts | AuthFacts;

export type AuditFormat = 'ecs' | 'ocsf';

/** Stamped by the writer on every record. */
export interface Stamp {
  readonly sequence: number;
  readonly bootId: string;
}

const PRODUCT = { name: 'Gatehouse', vendor_name: 'Gatehouse' };

/** `prevHash`: put the chain link in place already (saves a copy on the hot path). */
export function toRecord(f: AuditFacts, stamp: Stamp, format: AuditFormat, prevHash?: string): Record<string, unknown> {
  if (format === 'ocsf') return f.kind === 'request' ? ocsfRequest(f, stamp, prevHash) : ocsfAuth(f, stamp, prevHash);
  return f.kind === 'request' ? ecsRequest(f, stamp, prevHash) : ecsAuth(f, stamp, prevHash);
}

// Every builder writes keys in sorted order at every level, so JSON.stringify of a record already
// is its canonical JSON (chain.ts hashes it without re-sorting; test/audit checks the order).

function ecsUser(u: UserFacts | undefined): Record<string, unknown> | undefined {
  if (!u) return undefined;
  return { email: u.email, name: u.name, roles: u.groups };
}

function ecsRequest(f: RequestFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  return {
    '@timestamp': new Date(f.time).toISOString(),
    ecs: { version: '8.11.0' },
    event: {
      action: f.websocket ? 'websocket_session' : 'http_request',
      category: ['web', ...(f.decision === 'deny' || f.decision === 'unauthenticated' ? ['authentication'] : [])],
      dataset: 'gatehouse.access',
      duration: Math.round(f.durationMs * 1e6),
      kind: 'event',
      outcome: f.status >= 400 || f.decision === 'deny' || f.decision === 'error' ? 'failure' : 'success',
      reason: f.reason,
      sequence: s.sequence,
      type: ['access', ...(f.decision === 'deny' ? ['denied'] : f.decision === 'allow' || f.decision === 'public' ? ['allowed'] : [])],
    },
    gatehouse: {
      auth_method: f.authMethod,
      boot_id: s.bootId,
      decision: f.decision,
      end_reason: f.endReason,
      error_code: f.errorCode,
      idp: f.user?.idp,
      query_keys: f.queryKeys.length ? f.queryKeys : undefined,
      route: f.route,
      rule: f.rule,
      session: f.session,
      upstream: f.upstream,
    },
    http: {
      request: { bytes: f.bytesIn, id: f.requestId, method: f.method },
      response: { bytes: f.bytesOut, status_code: f.status },
    },
    prev_hash: prev,
    source: { ip: f.clientIp },
    url: { domain: f.host || undefined, path: f.path },
    user: ecsUser(f.user),
    user_agent: f.userAgent === undefined ? undefined : { original: f.userAgent },
  };
}

function ecsAuth(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const category = f.action.startsWith('config') ? ['configuration'] : f.action === 'admin_api' ? ['iam'] : ['authentication', 'session'];
  return {
    '@timestamp': new Date(f.time).toISOString(),
    ecs: { version: '8.11.0' },
    event: {
      action: f.action,
      category,
      dataset: 'gatehouse.auth',
      kind: 'event',
      outcome: f.outcome,
      reason: f.reason,
      sequence: s.sequence,
      type: f.action.startsWith('login') ? ['start'] : f.action === 'logout' || f.action.startsWith('session') ? ['end'] : ['info'],
    },
    gatehouse: { boot_id: s.bootId, idp: f.idp ?? f.user?.idp, session: f.session },
    http: f.requestId === undefined ? undefined : { request: { id: f.requestId } },
    message: f.message,
    prev_hash: prev,
    source: f.clientIp === undefined ? undefined : { ip: f.clientIp },
    user: ecsUser(f.user),
    user_agent: f.userAgent === undefined ? undefined : { original: f.userAgent },
  };
}

function ocsfUser(u: UserFacts | undefined): Record<string, unknown> | undefined {
  if (!u) return undefined;
  return { email_addr: u.email, groups: u.groups.map((name) => ({ name })), name: u.name };
}

function ocsfRequest(f: RequestFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const failed = f.status >= 400 || f.decision === 'deny' || f.decision === 'error';
  const activity = ({ GET: 3, HEAD: 4, OPTIONS: 5, POST: 6, PUT: 7, DELETE: 2, TRACE: 8, CONNECT: 1 } as Record<string, number>)[f.method] ?? 99;
  return {
    activity_id: activity,
    actor: f.user ? { user: ocsfUser(f.user) } : undefined,
    category_uid: 4,
    class_name: 'HTTP Activity',
    class_uid: 4002,
    disposition_id: f.decision === 'deny' || f.decision === 'unauthenticated' ? 2 : 1,
    duration: Math.round(f.durationMs),
    http_request: { http_method: f.method, length: f.bytesIn, uid: f.requestId, url: { hostname: f.host || undefined, path: f.path }, user_agent: f.userAgent },
    http_response: { code: f.status, length: f.bytesOut },
    metadata: { log_name: 'gatehouse.access', product: PRODUCT, sequence: s.sequence, uid: f.requestId, version: '1.1.0' },
    prev_hash: prev,
    severity_id: failed ? 3 : 1,
    src_endpoint: { ip: f.clientIp },
    status_code: String(f.status),
    status_detail: f.reason,
    status_id: failed ? 2 : 1,
    time: f.time,
    type_uid: 4002 * 100 + activity,
    unmapped: { auth_method: f.authMethod, boot_id: s.bootId, decision: f.decision, end_reason: f.endReason, error_code: f.errorCode, query_keys: f.queryKeys, route: f.route, rule: f.rule, session: f.session, upstream: f.upstream, websocket: f.websocket || undefined },
  };
}

function ocsfAuth(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const activity = f.action.startsWith('login') ? 1 : f.action === 'logout' || f.action.startsWith('session') ? 2 : 99;
  return {
    activity_id: activity,
    category_uid: 3,
    class_name: 'Authentication',
    class_uid: 3002,
    http_request: f.userAgent === undefined && f.requestId === undefined ? undefined : { uid: f.requestId, user_agent: f.userAgent },
    message: f.message,
    metadata: { log_name: 'gatehouse.auth', product: PRODUCT, sequence: s.sequence, version: '1.1.0' },
    prev_hash: prev,
    session: f.session === undefined ? undefined : { uid: f.session },
    severity_id: f.outcome === 'failure' ? 3 : 1,
    src_endpoint: f.clientIp === undefined ? undefined : { ip: f.clientIp },
    status_detail: f.reason,
    status_id: f.outcome === 'failure' ? 2 : 1,
    time: f.time,
    type_uid: 3002 * 100 + activity,
    unmapped: { action: f.action, boot_id: s.bootId, idp: f.idp ?? f.user?.idp },
    user: ocsfUser(f.user),
  };
}
