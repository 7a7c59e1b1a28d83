// Admin session API (behind the admin token):
//   GET    /admin/sessions?user=<user>        list a user's live sessions (ids are store keys,
//                                             which cannot be used as cookies)
//   DELETE /admin/sessions/<id>               revoke one session
//   DELETE /admin/users/<user>/sessions       revoke every session of a user, on every replica
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import type { ListedSession, SessionManager } from '../session/manager.ts';
import { ADMIN_PATHS } from '../http/endpoints.ts';

type Json = (res: ServerResponse, status: number, body: unknown) => void;

/** Handles the request when it is a sessions API call; returns false otherwise. */
export function handleSessionsApi(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, sessions: SessionManager, log: Logger, json: Json): boolean {
  const method = req.method;
  const fail = (err: unknown) => {
    log.warn({ err: (err as Error).message }, 'admin sessions API failed');
    json(res, 503, { error: 'GH_STORE_UNAVAILABLE', message: 'session store unavailable' });
  };
  if (path === ADMIN_PATHS.sessions) {
    if (method !== 'GET') return methodNotAllowed(res, json, 'GET');
    const user = query.get('user');
    if (!user) {
      json(res, 400, { error: 'GH_BAD_REQUEST', message: 'query parameter "user" is required' });
      return true;
    }
    sessions.list(user).then((list) => json(res, 200, { user, sessions: list.map(sessionSummary) }), fail);
    return true;
  }
  if (path.startsWith(ADMIN_PATHS.sessionPrefix)) {
    if (method !== 'DELETE') return methodNotAllowed(res, json, 'DELETE');
    const id = decode(path.slice(ADMIN_PATHS.sessionPrefix.length));
    if (!id || id.includes('/')) {
      json(res, 400, { error: 'GH_BAD_REQUEST', message: 'session id required' });
      return true;
    }
    sessions.revoke(id).then((existed) => {
      log.info({ session: id.slice(0, 12), existed }, 'admin revoked a session');
      json(res, existed ? 200 : 404, { revoked: existed ? 1 : 0 });
    }, fail);
    return true;
  }
  if (path.startsWith(ADMIN_PATHS.userPrefix) && path.endsWith('/sessions')) {
    if (method !== 'DELETE') return methodNotAllowed(res, json, 'DELETE');
    // The path is as sent (not normalised): the user is the one segment between the prefix and
    // "/sessions", decoded exactly once. A raw "/" would make the user and the path ambiguous.
    const raw = path.slice(ADMIN_PATHS.userPrefix.length, -'/sessions'.length);
    if (raw.includes('/')) {
      json(res, 400, { error: 'GH_BAD_REQUEST', message: 'encode "/" in the user as %2F' });
      return true;
    }
    const user = decode(raw);
    if (!user) {
      json(res, 400, { error: 'GH_BAD_REQUEST', message: 'user required' });
      return true;
    }
    sessions.revokeUser(user).then((keys) => {
      log.info({ user, revoked: keys.length }, 'admin revoked all sessions of a user');
      json(res, 200, { user, revoked: keys.length });
    }, fail);
    return true;
  }
  return false;
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function methodNotAllowed(res: ServerResponse, json: Json, allow: string): true {
  res.setHeader('allow', allow);
  json(res, 405, { error: 'GH_METHOD_NOT_ALLOWED', message: `use ${allow}` });
  return true;
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
