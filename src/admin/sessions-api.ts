// Admin session API (behind the admin token):
//   GET    /admin/sessions?user=<user>        list a user's live sessions (ids are store keys,
//                                             which cannot be used as cookies)
//   DELETE /admin/sessions/<id>               revoke one session
//   DELETE /admin/users/<user>/sessions       revoke every session of a user, on every replica, and the
//                                             user's personal access tokens (tokens_revoked in the answer)
// Every session a call ends gets its own session_revoked record (reason "admin", with its user) at
// the moment it ends; the call's own admin_api record (server.ts) names the user and the count.
import type { AuthEventInput } from '../audit/events.ts';
import type { SessionRecord } from '../identity/session-record.ts';
import { GatehouseError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ListedSession, SessionManager } from '../session/manager.ts';
import { ADMIN_PATHS } from '../http/endpoints.ts';
import { methodNotAllowed, sendJson, type AdminExchange } from './respond.ts';

/**
 * What the admin_api record says of one /admin/* call, filled in while it is handled; the record is
 * written once the call is answered (server.ts), with the status it got (a 404 is not a success).
 */
export interface AdminCallNote {
  /** "METHOD /path" (bounded), once the call is known to be an /admin/* call. */
  call?: string;
  authorized?: boolean;
  /** The user the call acted on. */
  targetUser?: string;
  /** Sessions the call ended. */
  affected?: number;
}

export interface SessionsApiDeps {
  readonly log: Logger;
  /** Filled in for the call's admin_api record. */
  readonly note: AdminCallNote;
  readonly onAuthEvent: (e: AuthEventInput) => void;
  /** DELETE /admin/users/<user>/sessions also ends the user's personal access tokens: how many. */
  readonly revokeTokens?: (user: string) => Promise<number>;
}

/** Answers the request when it is a sessions API call and returns true; returns false otherwise. */
export async function handleSessionsApi(
  ax: AdminExchange,
  path: string,
  query: URLSearchParams,
  sessions: SessionManager,
  deps: SessionsApiDeps,
): Promise<boolean> {
  const { log, note } = deps;
  const revoked = (key: string, record: SessionRecord | undefined, user: string | undefined) =>
    deps.onAuthEvent({
      action: 'session_revoked',
      outcome: 'success',
      reason: 'admin',
      session: key,
      clientIp: ax.req.socket.remoteAddress,
      user: record ?? (user === undefined ? undefined : { user, groups: [], idp: '' }),
      idp: record?.idp,
    });
  const method = ax.req.method;
  if (path === ADMIN_PATHS.sessions) {
    if (method !== 'GET') throw methodNotAllowed('GET');
    const user = query.get('user');
    if (!user) throw new GatehouseError('GH_BAD_REQUEST', 'query parameter "user" is required');
    note.targetUser = user;
    const list = await storeCall(log, () => sessions.list(user));
    sendJson(ax, 200, { user, sessions: list.map(sessionSummary) });
    return true;
  }
  if (path.startsWith(ADMIN_PATHS.sessionPrefix)) {
    if (method !== 'DELETE') throw methodNotAllowed('DELETE');
    const id = decode(path.slice(ADMIN_PATHS.sessionPrefix.length));
    if (!id || id.includes('/')) throw new GatehouseError('GH_BAD_REQUEST', 'session id required');
    // Read first, so the revocation's record names whose session it was.
    const record = await storeCall(log, () => sessions.store.get(id));
    const existed = await storeCall(log, () => sessions.revoke(id));
    note.targetUser = record?.user;
    note.affected = existed ? 1 : 0;
    if (existed) revoked(id, record, undefined);
    log.info({ session: id.slice(0, 12), existed }, 'admin revoked a session');
    // Not an error: the answer says how many sessions ended, and 404 says the id named none.
    sendJson(ax, existed ? 200 : 404, { revoked: existed ? 1 : 0 });
    return true;
  }
  if (path.startsWith(ADMIN_PATHS.userPrefix) && path.endsWith('/sessions')) {
    if (method !== 'DELETE') throw methodNotAllowed('DELETE');
    // The path is as sent (not normalised): the user is the one segment between the prefix and
    // "/sessions", decoded exactly once. A raw "/" would make the user and the path ambiguous.
    const raw = path.slice(ADMIN_PATHS.userPrefix.length, -'/sessions'.length);
    if (raw.includes('/')) throw new GatehouseError('GH_BAD_REQUEST', 'encode "/" in the user as %2F');
    const user = decode(raw);
    if (!user) throw new GatehouseError('GH_BAD_REQUEST', 'user required');
    note.targetUser = user;
    // The user's sessions as listed just before (their IdP and subject for the records); one that
    // started in between is still recorded, with the user's name.
    const before = new Map((await storeCall(log, () => sessions.list(user))).map((l) => [l.id, l.record] as const));
    const keys = await storeCall(log, () => sessions.revokeUser(user));
    const tokens = (await deps.revokeTokens?.(user)) ?? 0;
    note.affected = keys.length;
    for (const key of keys) revoked(key, before.get(key), user);
    log.info({ user, revoked: keys.length }, 'admin revoked all sessions of a user');
    sendJson(ax, 200, { user, revoked: keys.length, tokens_revoked: tokens });
    return true;
  }
  return false;
}

/** A store failure is logged here (with the store's reason) and answered 503. */
async function storeCall<T>(log: Logger, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'admin sessions API failed');
    throw new GatehouseError('GH_STORE_UNAVAILABLE', 'session store unavailable', { cause: err });
  }
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** One session in GET /admin/sessions: snake_case, ISO dates; `id` is the store key, not a cookie. */
export interface SessionSummary {
  readonly id: string;
  readonly user: string;
  readonly email: string | undefined;
  readonly idp: string;
  readonly method: string;
  readonly created_at: string;
  readonly last_seen_at: string;
  readonly expires_at: string;
}

export function sessionSummary({ id, record: r, expiresAt }: ListedSession): SessionSummary {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id,
    user: r.user,
    email: r.email,
    idp: r.idp,
    method: r.method,
    created_at: iso(r.createdAt),
    last_seen_at: iso(r.lastSeenAt),
    expires_at: iso(expiresAt),
  };
}
