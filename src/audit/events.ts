// Auth events (sign-ins, session ends, rejected tokens, reloads, admin calls) as the code that saw
// them reports them, and the audit facts built from them. Nothing here knows HTTP: an event seen
// inside a request gets its who and where from server/finish.ts, one seen outside any request
// (background refresh, admin API, reload) from the caller.
import type { GatehouseError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { AuthAction, AuthFacts, RequestFacts, UserFacts } from './facts.ts';

/** An auth event as the code that saw it knows it; the request it happened in fills in who and where. */
export interface AuthEventInput {
  readonly action: AuthAction;
  readonly outcome: 'success' | 'failure';
  readonly reason?: string | undefined;
  readonly message?: string | undefined;
  readonly user?: Identity | undefined;
  readonly idp?: string | undefined;
  readonly session?: string | undefined;
  /** For events outside a request exchange (admin API): who called. */
  readonly clientIp?: string | undefined;
  /** How many things the event covers (admin_api: sessions affected). */
  readonly count?: number | undefined;
  /** admin_api: which admin credential called (a label or fingerprint, never the token). */
  readonly credential?: string | undefined;
  /** admin_api: the user the call acted on. */
  readonly targetUser?: string | undefined;
  /** admin_api: the HTTP status it was answered with. */
  readonly status?: number | undefined;
  /** group_*: the group's name. */
  readonly group?: string | undefined;
}

/** Where an event happened, when it happened inside a request. */
export interface EventContext {
  readonly requestId: string;
  readonly identity: Identity | undefined;
  /** The IdP's id for `identity` (the session's OIDC sub / SAML NameID), when known. */
  readonly subject?: string | undefined;
  readonly session: string | undefined;
  readonly clientIp: string;
  readonly userAgent: string | undefined;
}

const MAX_UA = 512;

/**
 * The login_failed / bearer_rejected event of a refused sign-in or token: the error's reason code
 * (else the error table's), its IdP, and the attempted user when the refusing code knew one.
 */
export function refusalEvent(action: AuthEventInput['action'], fallback: string, err: GatehouseError): AuthEventInput {
  const d = err.audit;
  const idp = d?.idp;
  const user: (Identity & { subject?: string | undefined }) | undefined =
    d?.user !== undefined && idp !== undefined ? { user: d.user, groups: [], idp, subject: d.subject } : undefined;
  return { action, outcome: 'failure', reason: d?.reason ?? fallback, message: err.message, idp, user };
}

/** The User-Agent as recorded: one value, bounded (it is client-chosen text). */
export function userAgentFact(ua: string | string[] | undefined): string | undefined {
  return typeof ua === 'string' ? ua.slice(0, MAX_UA) : undefined;
}

/**
 * `subject`: the IdP's id for the user. A session record is an Identity that carries it; a caller
 * that has one passes it, otherwise it is read off the identity when that is a session record.
 */
export function userFacts(id: Identity | undefined, subject?: string): UserFacts | undefined {
  if (!id) return undefined;
  const sub = subject ?? (id as { readonly subject?: unknown }).subject;
  return { name: id.user, id: typeof sub === 'string' ? sub : undefined, email: id.email, groups: id.groups, idp: id.idp };
}

/** `at` is undefined for events outside any request; what the event names itself wins. */
export function authFacts(at: EventContext | undefined, e: AuthEventInput, time: number): AuthFacts {
  const user = e.user ?? at?.identity;
  return {
    kind: 'auth',
    time,
    action: e.action,
    outcome: e.outcome,
    reason: e.reason,
    user: userFacts(user, e.user ? undefined : at?.subject),
    idp: e.idp ?? user?.idp,
    session: e.session ?? at?.session,
    requestId: at?.requestId,
    clientIp: e.clientIp ?? at?.clientIp,
    userAgent: at?.userAgent,
    message: e.message,
    count: e.count,
    credential: e.credential,
    targetUser: e.targetUser,
    status: e.status,
    ...(e.group !== undefined ? { group: e.group } : {}),
  };
}

/** A request Node's parser refused before Gatehouse saw one (too large, too slow, malformed). */
export function refusalFacts(
  r: { readonly code: string; readonly status: number; readonly ip: string; readonly bytesIn: number },
  time: number,
  requestId: string,
): RequestFacts {
  return {
    kind: 'request',
    time,
    requestId,
    route: undefined,
    method: '',
    host: '',
    path: '',
    queryKeys: [],
    status: r.status,
    decision: 'error',
    reason: undefined,
    rule: undefined,
    errorCode: r.code,
    user: undefined,
    authMethod: undefined,
    session: undefined,
    clientIp: r.ip,
    userAgent: undefined,
    upstream: undefined,
    bytesIn: r.bytesIn,
    bytesOut: 0,
    durationMs: 0,
    websocket: false,
  };
}
