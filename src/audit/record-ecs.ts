// Audit records in the Elastic Common Schema (ECS_VERSION): requests are web/network access events
// (allowed or denied), sign-ins authentication events, session ends session events, reloads
// configuration changes, admin calls API events. Custom fields live under `gatehouse.`; the hash
// chain is `gatehouse.chain.hash` (this record, copied to ECS's `event.hash`) and
// `gatehouse.chain.prev_hash` (the one before): chain.ts fills them.
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
  ECS_VERSION,
  eventId,
  IAM_ACTIVITY,
  isUpstreamFailure,
  OBSERVER,
  requestFailed,
  wasAllowed,
} from './record-meaning.ts';
import { isoTime } from './iso-time.ts';

const ECS = { version: ECS_VERSION };
const OBSERVER_ECS = {
  hostname: OBSERVER.hostname,
  product: OBSERVER.product,
  type: 'proxy',
  vendor: OBSERVER.vendor,
  version: OBSERVER.version,
};

export function ecsRecord(f: AuditFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  return f.kind === 'request' ? ecsRequest(f, s, prev) : ecsAuth(f, s, prev);
}

/** IdP groups are the user's groups; `user.roles` is left for roles Gatehouse maps. */
function ecsUser(u: UserFacts | undefined): Record<string, unknown> | undefined {
  if (!u) return undefined;
  return {
    domain: u.idp || undefined,
    email: u.email,
    group: u.groups.length ? { name: [...u.groups] } : undefined,
    id: u.id,
    name: u.name,
  };
}

function ecsRequest(f: RequestFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  return {
    '@timestamp': isoTime(f.time),
    ecs: ECS,
    event: {
      action: f.websocketOpen ? 'websocket_open' : f.websocket ? 'websocket_session' : 'http_request',
      category: ['web', 'network'],
      dataset: 'gatehouse.access',
      duration: Math.round(f.durationMs * 1e6),
      hash: '',
      id: eventId(s),
      kind: 'event',
      outcome: requestFailed(f) ? 'failure' : 'success',
      reason: f.reason,
      sequence: s.sequence,
      type: ['access', wasAllowed(f) ? 'allowed' : 'denied', ...(isUpstreamFailure(f) ? ['error'] : [])],
    },
    gatehouse: {
      auth_method: f.authMethod,
      boot_id: s.bootId,
      chain: chainFields(s, prev),
      config: configFields(),
      credential_kind: f.credentialKind,
      decision: f.decision,
      end_reason: f.endReason,
      error_code: f.errorCode,
      granting_groups: f.grantingGroups?.length ? f.grantingGroups : undefined,
      idp: f.user?.idp,
      query_keys: f.queryKeys.length ? f.queryKeys : undefined,
      route: f.route,
      rule: f.rule,
      session: f.session,
      token: f.token === undefined ? undefined : { id: f.token.id, name: f.token.name },
      upstream: f.upstream,
    },
    http: {
      request: { bytes: f.bytesIn, id: f.requestId, method: f.method || undefined },
      response: { bytes: f.bytesOut, status_code: f.status },
      version: f.httpVersion,
    },
    observer: OBSERVER_ECS,
    source: { ip: f.clientIp, port: f.sourcePort },
    trace: f.traceId === undefined ? undefined : { id: f.traceId },
    url: f.path || f.host ? { domain: f.host || undefined, path: f.path || undefined, port: f.port, scheme: f.scheme } : undefined,
    user: ecsUser(f.user),
    user_agent: f.userAgent === undefined ? undefined : { original: f.userAgent },
  };
}

/** ECS categories and types per kind of action: each type one its categories expect. */
function ecsCategorisation(f: AuthFacts): { category: string[]; type: string[] } {
  switch (actionKind(f.action)) {
    case 'logon':
      return { category: f.action === 'login_succeeded' ? ['authentication', 'session'] : ['authentication'], type: ['start'] };
    case 'logoff':
      return { category: ['authentication', 'session'], type: ['end'] };
    case 'session_end':
      return { category: ['session'], type: ['end'] };
    case 'configuration':
      return { category: ['configuration'], type: ['change'] };
    case 'admin':
      return { category: ['api'], type: ['admin', f.reason === 'unauthorized' ? 'denied' : 'allowed'] };
    case 'refused_requests':
      return { category: ['web', 'network'], type: ['access', 'denied'] };
    case 'stopped':
      return { category: ['process'], type: ['end'] };
    case 'account':
      return { category: ['iam'], type: ['user', IAM_ACTIVITY[f.action]!.ecs] };
    case 'group':
      return { category: ['iam'], type: ['group', IAM_ACTIVITY[f.action]!.ecs] };
  }
}

function ecsAuth(f: AuthFacts, s: Stamp, prev: string | undefined): Record<string, unknown> {
  const { category, type } = ecsCategorisation(f);
  const admin = f.action === 'admin_api' ? adminCall(f) : undefined;
  return {
    '@timestamp': isoTime(f.time),
    ecs: ECS,
    event: {
      action: f.action,
      category,
      dataset: 'gatehouse.auth',
      hash: '',
      id: eventId(s),
      kind: 'event',
      outcome: authOutcome(f),
      reason: f.reason,
      sequence: s.sequence,
      type,
    },
    gatehouse: {
      boot_id: s.bootId,
      chain: chainFields(s, prev),
      config: configFields(),
      count: f.count,
      credential: f.credential,
      idp: f.idp ?? f.user?.idp,
      reason: f.reason,
      session: f.session,
    },
    group: f.group === undefined ? undefined : { name: f.group },
    http:
      f.requestId === undefined && admin?.method === undefined
        ? undefined
        : {
            request: { id: f.requestId, method: admin?.method },
            response: f.status === undefined ? undefined : { status_code: f.status },
          },
    message: f.message,
    observer: OBSERVER_ECS,
    source: f.clientIp === undefined ? undefined : { ip: f.clientIp },
    url: admin?.path === undefined ? undefined : { path: admin.path },
    // An admin call acts on a user (user.target); it is not that user's event.
    user: f.user ? ecsUser(f.user) : f.targetUser === undefined ? undefined : { target: { name: f.targetUser } },
    user_agent: f.userAgent === undefined ? undefined : { original: f.userAgent },
  };
}
