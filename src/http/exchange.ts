// Per-request state, created once when a request (or WebSocket upgrade) arrives and passed
// explicitly through every stage. The finish stage (server/finish.ts) turns it into metrics and
// audit records when the exchange ends.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteConfig } from '../config/types.ts';
import type { ErrorCode } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';
import type { PolicyDecision } from '../policy/evaluate.ts';
import type { SessionRecord } from '../identity/session-record.ts';
import type { ClientInfo } from './forwarded.ts';
import type { AuthEventInput } from '../audit/events.ts';
import type { Outcome } from '../audit/record.ts';

export class Exchange {
  readonly id: string;
  /** performance.now() at arrival. */
  readonly start: number;
  readonly req: IncomingMessage;
  /** Undefined for WebSocket upgrades, which answer on `socket`. */
  readonly res: ServerResponse | undefined;
  readonly socket: Duplex;
  readonly client: ClientInfo;
  /** Lower-case host without port, as used for routing ("" until the host stage, or none sent). */
  host = '';
  /** The validated, canonical authority (host[:port]) the client addressed; "" when none. */
  authority = '';
  /** How Gatehouse names this host in what it builds (Runtime.servedAuthority). */
  servedAuthority = '';
  /** The method policy sees: the request's, or the original request's in forward-auth mode. */
  method: string;
  /** Forward-auth mode: the original request's absolute URL, as the ingress reported it. */
  forwardAuthUrl: string | undefined = undefined;
  /** Forward-auth caller asked for a redirect to sign-in instead of a 401 (?redirect=1, Traefik). */
  forwardAuthRedirect = false;
  /** Normalised path (what the upstream receives). */
  path = '';
  /** Canonical path (route/canonical.ts) that routing, rules and api_paths judge, not case-folded. */
  policyPath = '';
  /** Every reading of the path an upstream may serve (policyPath first); routing and policy judge all. */
  readings: readonly string[] = [];
  /** The decoded path still holds an escape (refused unless the route allows it). */
  encodedEscape = false;
  /** Raw query string including "?", or "". */
  query = '';
  route: RouteConfig | undefined = undefined;
  /** The verified identity, when a session or a bearer token provided one. */
  identity: Identity | undefined = undefined;
  session: { readonly key: string; readonly record: SessionRecord } | undefined = undefined;
  /** The bearer token the identity came from (passed upstream with pass_access_token). */
  bearerToken: string | undefined = undefined;
  /** The personal access token presented (id, and name once found): for the audit record, never the token. */
  token: { readonly id: string; readonly name: string | undefined } | undefined = undefined;
  /** False for API clients (JSON errors, never a redirect); undefined = decide from the request. */
  browser: boolean | undefined = undefined;
  /** Identity headers for the upstream, set by the inject stage. */
  identityHeaders: Readonly<Record<string, string>> | undefined = undefined;
  /** Set-Cookie values Gatehouse adds to whatever response goes out (e.g. clearing a dead cookie). */
  setCookies: string[] | undefined = undefined;
  /** How the exchange ended (the audit record's decision). */
  decision: Outcome | undefined = undefined;
  /** The policy's answer with its reason and deciding rule (for logs, the audit record, 403 page). */
  policy: PolicyDecision | undefined = undefined;
  status = 0;
  errorCode: ErrorCode | undefined = undefined;
  /** True once a WebSocket upgrade reached the upstream and was switched. */
  upgraded = false;
  /**
   * Was the request forwarded to the upstream (the audit record's allowed/denied)? false from the
   * moment a route was chosen to proxy to, true once the request was handed to the upstream
   * connection; undefined where Gatehouse answers itself (its own endpoints, forward-auth).
   */
  proxied: boolean | undefined = undefined;
  /** Gatehouse ended this live connection (WebSocket, stream) because its session ended. */
  liveEnd: 'session revoked' | 'session expired' | undefined = undefined;
  /** True once the finish stage ran (server/finish.ts closeOnce). */
  finished = false;
  /** Auth events seen while handling this request, written to the audit trail with it. */
  events: AuthEventInput[] | undefined = undefined;
  /** Socket byte counters at arrival, so the audit record gets this request's share. */
  readonly bytesReadAtStart: number;
  readonly bytesWrittenAtStart: number;

  constructor(id: string, start: number, req: IncomingMessage, res: ServerResponse | undefined, socket: Duplex, client: ClientInfo) {
    this.id = id;
    this.start = start;
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.client = client;
    this.method = req.method ?? 'GET';
    this.bytesReadAtStart = (socket as { bytesRead?: number }).bytesRead ?? 0;
    this.bytesWrittenAtStart = (socket as { bytesWritten?: number }).bytesWritten ?? 0;
  }

  event(e: AuthEventInput): void {
    (this.events ??= []).push(e);
  }
}
