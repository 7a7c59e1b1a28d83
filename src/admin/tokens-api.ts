// Admin API for personal access tokens (behind the admin token; auth/bearer/pat.ts):
//   GET    /admin/tokens[?user=<user>]    every live token, or one user's (never a token or its hash)
//   POST   /admin/tokens                  create one for a user: JSON {user, name, routes,
//                                         expires_in_days?, groups?, email?, idp?}; the token is in
//                                         the answer, once. The admin vouches for the groups given
//                                         (default none): the user need not have signed in.
//   DELETE /admin/tokens/<id>             revoke one
// DELETE /admin/users/<user>/sessions revokes the user's tokens too (sessions-api.ts calls
// revokeUserTokens). The call's admin_api record names the user; a created token's id is in it.
import { GatehouseError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { patSummary, type Pats } from '../auth/bearer/pat.ts';
import { readBody } from '../http/body.ts';
import { ADMIN_PATHS } from '../http/endpoints.ts';
import { methodNotAllowed, sendJson, type AdminExchange } from './respond.ts';
import type { AdminCallNote } from './sessions-api.ts';

const DAY_MS = 86_400_000;

/** Answers the request when it is a tokens API call and returns true; returns false otherwise. */
export async function handleTokensApi(
  ax: AdminExchange,
  path: string,
  query: URLSearchParams,
  pats: Pats,
  deps: { readonly log: Logger; readonly note: AdminCallNote },
): Promise<boolean> {
  const { log, note } = deps;
  const method = ax.req.method;
  if (path === ADMIN_PATHS.tokens) {
    if (method === 'GET') {
      const user = query.get('user');
      if (user !== null) note.targetUser = user;
      const list = await storeCall(log, () => (user === null ? pats.listAll() : pats.list(user)));
      sendJson(ax, 200, { ...(user === null ? {} : { user }), tokens: list.map(patSummary) });
      return true;
    }
    if (method !== 'POST') throw methodNotAllowed('GET, POST');
    const body = await readJson(ax);
    const str = (k: string) => (typeof body[k] === 'string' && body[k] !== '' ? (body[k] as string) : undefined);
    const strings = (k: string) => {
      const v = body[k];
      if (v === undefined) return [];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
        throw new GatehouseError('GH_BAD_REQUEST', `${k}: a list of strings`);
      return v as string[];
    };
    const user = str('user');
    if (!user) throw new GatehouseError('GH_BAD_REQUEST', 'user: required');
    note.targetUser = user;
    const days = body.expires_in_days;
    if (days !== undefined && !(typeof days === 'number' && days > 0))
      throw new GatehouseError('GH_BAD_REQUEST', 'expires_in_days: a positive number');
    const { token, record } = await guarded(log, () =>
      pats.create({
        owner: { user, email: str('email'), groups: strings('groups'), idp: str('idp') ?? 'admin' },
        name: str('name') ?? '',
        routes: strings('routes'),
        ttlMs: days === undefined ? undefined : Math.round((days as number) * DAY_MS),
        by: 'admin',
      }),
    );
    note.call = `${note.call} ${record.id}`;
    note.affected = 1;
    sendJson(ax, 201, { ...patSummary(record), token });
    return true;
  }
  if (path.startsWith(ADMIN_PATHS.tokenPrefix)) {
    if (method !== 'DELETE') throw methodNotAllowed('DELETE');
    const id = path.slice(ADMIN_PATHS.tokenPrefix.length);
    if (!/^[0-9a-f]{16}$/.test(id)) throw new GatehouseError('GH_BAD_REQUEST', 'token id: 16 hex digits');
    const r = await storeCall(log, () => pats.revoke(id));
    note.targetUser = r?.user;
    note.affected = r ? 1 : 0;
    sendJson(ax, r ? 200 : 404, { revoked: r ? 1 : 0 });
    return true;
  }
  return false;
}

/** DELETE /admin/users/<user>/sessions: the user's personal access tokens end with the sessions. */
export async function revokeUserTokens(pats: Pats | undefined, user: string, log: Logger): Promise<number> {
  if (!pats) return 0;
  return (await storeCall(log, () => pats.revokeUser(user))).length;
}

async function readJson(ax: AdminExchange): Promise<Record<string, unknown>> {
  if (!(ax.req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json'))
    throw new GatehouseError('GH_BAD_REQUEST', 'send a JSON body (Content-Type: application/json)');
  let v: unknown;
  try {
    v = JSON.parse((await readBody(ax.req, 16 * 1024)).toString('utf8'));
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw new GatehouseError('GH_BAD_REQUEST', 'the body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GatehouseError('GH_BAD_REQUEST', 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Our own refusals pass; anything else is the store. */
async function guarded<T>(log: Logger, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof GatehouseError && err.code !== 'GH_STORE_UNAVAILABLE') throw err;
    return storeCall(log, () => Promise.reject(err));
  }
}

async function storeCall<T>(log: Logger, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'admin tokens API failed');
    throw new GatehouseError('GH_STORE_UNAVAILABLE', 'token store unavailable', { cause: err });
  }
}
