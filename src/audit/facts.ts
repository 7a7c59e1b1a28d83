// The facts an audit record is built from, and the stamp (sequence, boot id, time) each record
// carries: plain data shared by the request side (server/finish.ts, events.ts) and the two record
// builders. An explicit allow-list — never raw headers, cookies, tokens, query values or
// SAMLResponses. Kept apart from record.ts so the builders do not import their own dispatcher.

export type Outcome = 'allow' | 'deny' | 'unauthenticated' | 'public' | 'error';

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
  readonly decision: Outcome;
  readonly reason: string | undefined;
  /** The deciding rule's stable id (`<route>/<hash>`, config/hash.ts); undefined when the route's own allow/deny decided. */
  readonly rule: string | undefined;
  readonly errorCode: string | undefined;
  readonly user: UserFacts | undefined;
  readonly authMethod: 'session' | 'bearer' | undefined;
  /** Which credential identified the caller: 'session_cookie', 'bearer_jwt', 'bearer_opaque' (introspected). */
  readonly credentialKind?: string | undefined;
  /** The session's store key (SHA-256 of the cookie's id): names the session, is not a credential. */
  readonly session: string | undefined;
  /** The personal access token presented: its id, and its name once found — never the token. */
  readonly token?: { readonly id: string; readonly name: string | undefined } | undefined;
  readonly clientIp: string;
  readonly userAgent: string | undefined;
  readonly upstream: string | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly websocket: boolean;
  /** The record written when a WebSocket opens (the one at its close has websocket alone). */
  readonly websocketOpen?: boolean | undefined;
  // Optional context (issue 14): written when the code that saw the request supplies it.
  /**
   * Was the request forwarded to the upstream (server/pipeline.ts, proxy/*)? It decides allowed vs
   * denied. Undefined where Gatehouse answered itself: derived from the decision and error code.
   */
  readonly proxied?: boolean | undefined;
  readonly scheme?: 'http' | 'https' | undefined;
  /** The port the client connected to. */
  readonly port?: number | undefined;
  readonly sourcePort?: number | undefined;
  /** '1.1', '2' */
  readonly httpVersion?: string | undefined;
  /** The trace id of a W3C traceparent header. */
  readonly traceId?: string | undefined;
  /** For a policy 403: the groups that would have allowed the request. */
  readonly grantingGroups?: readonly string[] | undefined;
  /** Gatehouse ended the live connection (WebSocket, stream): 'session revoked' | 'session expired'. */
  readonly endReason?: string | undefined;
}

export interface UserFacts {
  readonly name: string;
  /** The IdP's id for the user (OIDC `sub`, SAML NameID), when known. */
  readonly id?: string | undefined;
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
  | 'requests_refused'
  /** The last record of a run, written on a clean shutdown (chain.ts: a cut tail lacks it). */
  | 'audit_stopped'
  /** Directory changes from the IdP (SCIM, Shared Signals; issue 19): the account is targetUser, the IdP client the credential. */
  | 'user_created'
  | 'user_updated'
  | 'user_deactivated'
  | 'user_reactivated'
  | 'user_deleted'
  /** Group changes: the group is `group`; a member added or removed is targetUser. */
  | 'group_created'
  | 'group_updated'
  | 'group_deleted'
  | 'group_member_added'
  | 'group_member_removed'
  /** A Shared Signals SET event received (reason: its kind, or why it was refused); credential = the transmitter's issuer. */
  | 'security_event';

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
  /** requests_refused: how many requests the record sums up. */
  readonly count?: number | undefined;
  /** admin_api: which admin credential called (a label or fingerprint, never the token). */
  readonly credential?: string | undefined;
  /** admin_api: the user the call acted on (a revocation's or a listing's user). */
  readonly targetUser?: string | undefined;
  /** admin_api: the HTTP status the call was answered with. */
  readonly status?: number | undefined;
  /** group_*: the group's name. */
  readonly group?: string | undefined;
}

export type AuditFacts = RequestFacts | AuthFacts;

export type AuditFormat = 'ecs' | 'ocsf';

/** Stamped by the writer on every record. */
export interface Stamp {
  readonly sequence: number;
  readonly bootId: string;
  /** The chain is keyed (HMAC): the record says so in chain.alg. */
  readonly keyed?: boolean | undefined;
}
