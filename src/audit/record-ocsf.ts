// Audit records in OCSF (OCSF_VERSION): requests are HTTP Activity (4002) with the security_control
// profile's action and disposition, sign-ins and session ends Authentication (3002), admin calls
// API Activity (6003), reloads Application Lifecycle (6002). What OCSF has no attribute for lives
// under `unmapped`; the hash chain is `unmapped.chain.hash` / `unmapped.chain.prev_hash` (chain.ts).
//
// Every builder writes keys in sorted order at every level, so JSON.stringify of a record already
// is its canonical JSON (chain.ts hashes it without re-sorting; test/audit/record-order checks it).
import type { AuditFacts, AuthFacts, RequestFacts, Stamp, UserFacts } from './facts.ts';
import {
  actionKind,
  adminCall,
  authOutcome,
  chainFields,
  configFields,
  eventId,
  IAM_ACTIVITY,
  OBSERVER,
  OCSF_VERSION,
  requestFailed,
  wasAllowed,
} from './record-meaning.ts';

const PRODUCT = { name: OBSERVER.product, vendor_name: OBSERVER.vendor, version: OBSERVER.version };
/** HTTP Activity activity per method (OCSF 1.6.0 knows PATCH); anything else is 99 Other. */
const HTTP_ACTIVITY: Readonly<Record<string, number>> = {
  CONNECT: 1,
  DELETE: 2,
  GET: 3,
  HEAD: 4,
  OPTIONS: 5,
  POST: 6,
  PUT: 7,
  TRACE: 8,
  PATCH: 9,
};
/** API Activity: Create 1, Read 2, Update 3, Delete 4. */
const API_ACTIVITY: Readonly<Record<string, number>> = { POST: 1, GET: 2, HEAD: 2, PUT: 3, PATCH: 3, DELETE: 4 };
/** severity_id and status_id per outcome (written apart: keys stay in sorted order). */
const STATUS = { failure: { severity: 3, status: 2 }, success: { severity: 1, status: 1 }, unknown: { severity: 1, status: 0 } } as const;

export function ocsfRecord(f: AuditFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  if (f.kind === 'request') return ocsfRequest(f, s, prev);
  switch (actionKind(f.action)) {
    case 'admin':
      return ocsfAdmin(f, s, prev);
    case 'configuration':
    case 'stopped':
      return ocsfReload(f, s, prev);
    case 'refused_requests':
      return ocsfRefused(f, s, prev);
    case 'account':
    case 'group':
      return ocsfIam(f, s, prev);
    default:
      return ocsfAuth(f, s, prev);
  }
}

function metadata(s: Stamp, logName: string, profiles: readonly string[] | undefined): Record<string, unknown> {
  return { log_name: logName, product: PRODUCT, profiles, sequence: s.sequence, uid: eventId(s), version: OCSF_VERSION };
}

function ocsfUser(u: UserFacts): Record<string, unknown> {
  return {
    domain: u.idp || undefined,
    email_addr: u.email,
    groups: u.groups.length ? u.groups.map((name) => ({ name })) : undefined,
    name: u.name,
    type_id: 1,
    uid: u.id,
  };
}

/** Authentication needs a user: who tried, or explicitly nobody known. */
const UNKNOWN_USER = { name: 'unknown', type_id: 0 };

function ocsfRequest(f: RequestFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const allowed = wasAllowed(f) ? 1 : 2;
  const activity = f.method === '' ? 0 : (HTTP_ACTIVITY[f.method] ?? 99);
  const known = f.method in HTTP_ACTIVITY;
  const st = STATUS[requestFailed(f) ? 'failure' : 'success'];
  return {
    action_id: allowed,
    activity_id: activity,
    actor: f.user ? { user: ocsfUser(f.user) } : undefined,
    category_uid: 4,
    class_name: 'HTTP Activity',
    class_uid: 4002,
    disposition_id: allowed, // 1 Allowed, 2 Blocked
    dst_endpoint: { hostname: f.host || OBSERVER.hostname, port: f.port, svc_name: f.route },
    duration: Math.round(f.durationMs),
    http_request: {
      http_method: known ? f.method : undefined,
      length: f.bytesIn,
      uid: f.requestId,
      url: f.path ? { hostname: f.host || undefined, path: f.path, port: f.port, scheme: f.scheme } : undefined,
      user_agent: f.userAgent,
      version: f.httpVersion,
    },
    http_response: { code: f.status, length: f.bytesOut },
    metadata: metadata(
      s,
      'gatehouse.access',
      f.traceId === undefined ? ['host', 'security_control'] : ['host', 'security_control', 'trace'],
    ),
    severity_id: st.severity,
    src_endpoint: { ip: f.clientIp, port: f.sourcePort },
    status_code: String(f.status),
    status_detail: f.reason,
    status_id: st.status,
    time: f.time,
    trace: f.traceId === undefined ? undefined : { uid: f.traceId },
    type_uid: 4002 * 100 + activity,
    unmapped: {
      action: f.websocketOpen ? 'websocket_open' : undefined,
      auth_method: f.authMethod,
      boot_id: s.bootId,
      chain: chainFields(s, prev),
      config: configFields(),
      credential_kind: f.credentialKind,
      decision: f.decision,
      end_reason: f.endReason,
      error_code: f.errorCode,
      granting_groups: f.grantingGroups?.length ? f.grantingGroups : undefined,
      http_method: known || !f.method ? undefined : f.method,
      query_keys: f.queryKeys,
      route: f.route,
      rule: f.rule,
      session: f.session,
      token: f.token === undefined ? undefined : { id: f.token.id, name: f.token.name },
      upstream: f.upstream,
      websocket: f.websocket || undefined,
    },
  };
}

/** Sign-ins (Logon), sign-outs and session ends (Logoff). A started sign-in has status Unknown. */
function ocsfAuth(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const activity = actionKind(f.action) === 'logon' ? 1 : 2;
  const outcome = authOutcome(f);
  return {
    activity_id: activity,
    category_uid: 3,
    class_name: 'Authentication',
    class_uid: 3002,
    http_request: f.userAgent === undefined && f.requestId === undefined ? undefined : { uid: f.requestId, user_agent: f.userAgent },
    message: f.message,
    metadata: metadata(s, 'gatehouse.auth', undefined),
    service: { name: OBSERVER.product, version: OBSERVER.version },
    session: f.session === undefined ? undefined : { uid: f.session },
    severity_id: STATUS[outcome].severity,
    src_endpoint: f.clientIp === undefined ? undefined : { ip: f.clientIp },
    // The stable reason code (docs/audit.md), in both: status_code is what an OCSF rule matches on.
    status_code: f.reason,
    status_detail: f.reason,
    status_id: STATUS[outcome].status,
    time: f.time,
    type_uid: 3002 * 100 + activity,
    unmapped: { action: f.action, boot_id: s.bootId, chain: chainFields(s, prev), config: configFields(), idp: f.idp ?? f.user?.idp },
    user: f.user ? ocsfUser(f.user) : UNKNOWN_USER,
  };
}

/** Admin API calls: API Activity by method; the caller is the admin credential, never its token. */
function ocsfAdmin(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const { method, path } = adminCall(f);
  const activity = method === undefined ? 0 : (API_ACTIVITY[method] ?? 99);
  return {
    activity_id: activity,
    actor: { user: { name: f.credential ?? 'admin', type_id: 2 } },
    api: { operation: method && path ? `${method} ${path}` : (f.reason ?? 'unknown'), service: { name: `${OBSERVER.product} admin API` } },
    category_uid: 6,
    class_name: 'API Activity',
    class_uid: 6003,
    count: f.count,
    http_request:
      method === undefined ? undefined : { http_method: method in HTTP_ACTIVITY ? method : undefined, url: path ? { path } : undefined },
    http_response: f.status === undefined ? undefined : { code: f.status },
    message: f.message,
    metadata: metadata(s, 'gatehouse.auth', undefined),
    resources: f.targetUser === undefined ? undefined : [{ name: f.targetUser, type: 'user' }],
    severity_id: STATUS[f.outcome].severity,
    src_endpoint: f.clientIp === undefined ? { name: 'unknown' } : { ip: f.clientIp },
    status_detail: f.reason,
    status_id: STATUS[f.outcome].status,
    time: f.time,
    type_uid: 6003 * 100 + activity,
    unmapped: { action: f.action, boot_id: s.bootId, chain: chainFields(s, prev), config: configFields(), credential: f.credential },
  };
}

/** Configuration reloads: Application Lifecycle, activity Other ("Reload"); a clean shutdown: Stop (4). */
function ocsfReload(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const activity = f.action === 'audit_stopped' ? 4 : 99;
  return {
    activity_id: activity,
    activity_name: activity === 99 ? 'Reload' : undefined,
    app: PRODUCT,
    category_uid: 6,
    class_name: 'Application Lifecycle',
    class_uid: 6002,
    message: f.message,
    metadata: metadata(s, 'gatehouse.auth', undefined),
    severity_id: STATUS[f.outcome].severity,
    status_detail: f.reason,
    status_id: STATUS[f.outcome].status,
    time: f.time,
    type_uid: 6002 * 100 + activity,
    unmapped: { action: f.action, boot_id: s.bootId, chain: chainFields(s, prev), config: configFields() },
  };
}

/** Requests refused because the audit trail could not take them, summed up: HTTP Activity, Blocked. */
function ocsfRefused(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  return {
    action_id: 2,
    activity_id: 0,
    category_uid: 4,
    class_name: 'HTTP Activity',
    class_uid: 4002,
    count: f.count,
    disposition_id: 2,
    dst_endpoint: { hostname: OBSERVER.hostname },
    http_response: { code: 503 },
    message: f.message,
    metadata: metadata(s, 'gatehouse.access', ['security_control']),
    severity_id: STATUS.failure.severity,
    status_detail: f.reason,
    status_id: STATUS.failure.status,
    time: f.time,
    type_uid: 4002 * 100,
    unmapped: { action: f.action, boot_id: s.bootId, chain: chainFields(s, prev), config: configFields() },
  };
}

/**
 * Directory changes from the IdP (issue 19): Account Change (3001) with the account as `user`, or
 * Group Management (3006) with the group and the member added or removed; the IdP's client (SCIM,
 * a Shared Signals transmitter) is the actor.
 */
function ocsfIam(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const group = actionKind(f.action) === 'group';
  const activity = IAM_ACTIVITY[f.action]!.ocsf;
  const classUid = group ? 3006 : 3001;
  const account = f.targetUser === undefined ? undefined : { name: f.targetUser, type_id: 1 };
  return {
    activity_id: activity,
    actor: f.credential === undefined ? undefined : { app_name: f.credential },
    category_uid: 3,
    class_name: group ? 'Group Management' : 'Account Change',
    class_uid: classUid,
    group: group ? { name: f.group ?? 'unknown' } : undefined,
    message: f.message,
    metadata: metadata(s, 'gatehouse.auth', undefined),
    severity_id: STATUS[f.outcome].severity,
    status_detail: f.reason,
    status_id: STATUS[f.outcome].status,
    time: f.time,
    type_uid: classUid * 100 + activity,
    unmapped: { action: f.action, boot_id: s.bootId, chain: chainFields(s, prev) },
    user: group ? account : (account ?? UNKNOWN_USER),
  };
}
