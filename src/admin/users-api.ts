// GET /admin/users/<user> (behind the admin token): everything Gatehouse holds for one user —
// live sessions, tokens, the IdP directory's (SCIM) state, and the groups policy sees with where
// each came from (the sign-in token, SCIM), so a mapping mismatch (scim.user_key) is visible.
import { patSummary, type Pats } from '../auth/bearer/pat.ts';
import { groupSources } from '../directory/apply.ts';
import type { Directory } from '../directory/directory.ts';
import type { ScimConfig } from '../config/types.ts';
import { GatehouseError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SessionManager } from '../session/manager.ts';
import { ADMIN_PATHS } from '../http/endpoints.ts';
import { methodNotAllowed, sendJson, type AdminExchange } from './respond.ts';
import { sessionSummary, type AdminCallNote } from './sessions-api.ts';

export interface UsersApiDeps {
  readonly log: Logger;
  readonly note: AdminCallNote;
  readonly sessions: SessionManager;
  readonly directory: Directory;
  readonly scim: ScimConfig | undefined;
  /** Personal access tokens, when the token store is there. */
  readonly pats?: Pats | undefined;
}

/** Answers GET /admin/users/<user> and returns true; false for any other path. */
export async function handleUsersApi(ax: AdminExchange, path: string, deps: UsersApiDeps): Promise<boolean> {
  if (!path.startsWith(ADMIN_PATHS.userPrefix)) return false;
  const raw = path.slice(ADMIN_PATHS.userPrefix.length);
  if (raw.includes('/')) return false;
  if (ax.req.method !== 'GET') throw methodNotAllowed('GET');
  let user: string;
  try {
    user = decodeURIComponent(raw);
  } catch {
    throw new GatehouseError('GH_BAD_REQUEST', 'bad user');
  }
  if (!user) throw new GatehouseError('GH_BAD_REQUEST', 'user required');
  deps.note.targetUser = user;
  try {
    const [sessions, entry, state, tokens] = await Promise.all([
      deps.sessions.list(user),
      deps.directory.getUser(user),
      deps.directory.state(user),
      deps.pats ? deps.pats.list(user) : [],
    ]);
    const memberOf = entry ? await deps.directory.memberOf(entry.id) : [];
    const tokenGroups = [...new Set(sessions.flatMap((s) => s.record.groups))].sort();
    sendJson(ax, 200, {
      user,
      sessions: sessions.map(sessionSummary),
      tokens: tokens.map(patSummary),
      scim: {
        enabled: deps.scim !== undefined,
        groups_mode: deps.scim?.groups ?? null,
        user_key: deps.scim?.userKey ?? null,
        known: entry !== undefined,
        ...(entry
          ? {
              id: entry.id,
              active: entry.active,
              source: entry.source,
              user_name: entry.userName,
              external_id: entry.externalId ?? null,
              groups: memberOf.map((g) => ({ id: g.id, name: g.displayName })),
              last_modified: entry.lastModified,
            }
          : {}),
      },
      groups: groupSources(tokenGroups, deps.scim ? state : { known: false }, deps.scim?.groups ?? 'merge'),
    });
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    deps.log.warn({ err: (err as Error).message }, 'admin users API failed');
    throw new GatehouseError('GH_STORE_UNAVAILABLE', 'session store unavailable', { cause: err });
  }
  return true;
}
