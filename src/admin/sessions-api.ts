// Admin session API (behind the admin token):
//   GET    /admin/sessions?user=<user>        list a user's live sessions (ids are store keys,
//                                             which cannot be used as cookies)
//   DELETE /admin/sessions/<id>               revoke one session
//   DELETE /admin/users/<user>/sessions       revoke every session of a user, on every replica
import { GatehouseError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ListedSession, SessionManager } from '../session/manager.ts';
import { ADMIN_PATHS } from '../http/endpoints.ts';
import { methodNotAllowed, sendJson, type AdminExchange } from './respond.ts';

/** Answers the request when it is a sessions API call and returns true; returns false otherwise. */
export async function handleSessionsApi(ax: AdminExchange, path: string, query: URLSearchParams, sessions: SessionManager, log: Logger): Promise<boolean> {
  const method = ax.req.method;
  if (path === ADMIN_PATHS.sessions) {
    if (method !== 'GET') throw methodNotAllowed('GET');
    const user = query.get('user');
    if (!user) throw new GatehouseError('GH_BAD_REQUEST', 'query parameter "user" is required');
    const list = await storeCall(log, () => sessions.list(user));
    sendJson(ax, 200, { user, sessions: list.map(sessionSummary) });
    return true;
  }
  if (path.startsWith(ADMIN_PATHS.sessionPrefix)) {
    if (method !== 'DELETE') throw methodNotAllowed('DELETE');
    const id = decode(path.slice(ADMIN_PATHS.sessionPrefix.length));
    if (!id || id.includes('/')) throw new GatehouseError('GH_BAD_REQUEST', 'session id required');
    const existed = await storeCall(log, () => sessions.revoke(id));
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
    const keys = await storeCall(log, () => sessions.revokeUser(user));
    log.info({ user, revoked: keys.length }, 'admin revoked all sessions of a user');
    sendJson(ax, 200, { user, revoked: keys.length });
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
  return { id, user: r.user, email: r.email, idp: r.idp, method: r.method, created_at: iso(r.createdAt), last_seen_at: iso(r.lastSeenAt), expires_at: iso(expiresAt) };
}
