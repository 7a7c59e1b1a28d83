// Admin listener router: health (is the process up), readiness (should it get traffic), Prometheus
// metrics, and /admin/* behind the bearer token (sessions API, reload). Handlers throw
// GatehouseError; respond.ts renders it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Secret } from '../config/secret.ts';
import { GatehouseError, toGatehouseError } from '../errors.ts';
import type { AuthEventInput } from '../audit/events.ts';
import type { Logger } from '../log.ts';
import type { SessionManager } from '../session/manager.ts';
import { ADMIN_PATHS } from '../http/endpoints.ts';
import { isAdminAuthorized } from './auth.ts';
import type { Metrics } from './metrics.ts';
import type { ReadyReport } from './readiness.ts';
import { adminExchange, AdminError, methodNotAllowed, sendAdmin, sendJson, sendJsonError, type AdminExchange } from './respond.ts';
import { handleSessionsApi, type AdminCallNote } from './sessions-api.ts';
import { handleTokensApi, revokeUserTokens } from './tokens-api.ts';
import type { Pats } from '../auth/bearer/pat.ts';
import { handleUsersApi } from './users-api.ts';
import type { Directory } from '../directory/directory.ts';
import type { ScimConfig } from '../config/types.ts';

export interface AdminDeps {
  readonly metrics: Metrics;
  readonly log: Logger;
  sessions(): SessionManager;
  /** Personal access tokens (/admin/tokens; a user's end with their sessions). */
  pats?(): Pats;
  /** The directory (SCIM) and its settings, for GET /admin/users/<user>. */
  directory?: (() => { readonly directory: Directory; readonly scim: ScimConfig | undefined }) | undefined;
  /** Every /admin/* call is an audit event (written once answered), and so is every session it ends. */
  onAuthEvent(e: AuthEventInput): void;
  /** POST /admin/reload. */
  reload(): Promise<{ ok: true; warnings: readonly string[] } | { ok: false; error: string }>;
  /** The admin token of the current config. */
  token(): Secret | undefined;
  /**
   * Not ready while draining, or while the session store or the audit trail cannot serve.
   * Identity providers are reported, but never make the replica unready.
   */
  ready(): Promise<ReadyReport>;
}

/** The admin credential, named in records by its config key: there is one, and the token is never written. */
const ADMIN_CREDENTIAL = 'admin.token';

export function createAdminHandler(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const ax = adminExchange(req, res);
    const note: AdminCallNote = {};
    route(ax, deps, note)
      .then(
        () => undefined,
        (err: unknown) => {
          const e = toGatehouseError(err);
          if (e.status >= 500)
            deps.log.warn(
              { err: e.cause instanceof Error ? e.cause.message : e.message, code: e.code, request_id: ax.id },
              'admin request failed',
            );
          sendJsonError(ax, e);
          return e;
        },
      )
      .then((failure) => recordAdminCall(ax, deps, note, failure));
  };
}

/** The admin_api record of an answered /admin/* call: after the action, with its real outcome. */
function recordAdminCall(ax: AdminExchange, deps: AdminDeps, note: AdminCallNote, failure: GatehouseError | undefined): void {
  if (note.call === undefined) return;
  const status = ax.res.statusCode;
  const ok = status < 400;
  deps.onAuthEvent({
    action: 'admin_api',
    outcome: ok ? 'success' : 'failure',
    // Success: the call itself; failure: why, the call in the message (audit/record-meaning.ts adminCall).
    reason: ok ? note.call : note.authorized ? (failure?.code ?? `status_${status}`) : 'unauthorized',
    message: ok ? undefined : note.call,
    clientIp: ax.req.socket.remoteAddress,
    credential: note.authorized ? ADMIN_CREDENTIAL : undefined,
    targetUser: note.targetUser,
    count: note.affected,
    status,
  });
}

async function route(ax: AdminExchange, deps: AdminDeps, note: AdminCallNote): Promise<void> {
  const { req } = ax;
  const parsed = parseTarget(req.url ?? '/');
  if (!parsed) throw new GatehouseError('GH_BAD_REQUEST', 'bad request target');
  const { path, query } = parsed;
  if (path === ADMIN_PATHS.healthz) return sendJson(ax, 200, { status: 'ok' });
  if (path === ADMIN_PATHS.readyz) return sendReadiness(ax, deps);
  if (path === ADMIN_PATHS.metrics) {
    const body = await deps.metrics.registry.metrics().catch((err: unknown) => {
      throw new GatehouseError('GH_INTERNAL', 'metrics unavailable', { cause: err });
    });
    return sendAdmin(ax, 200, deps.metrics.registry.contentType, body);
  }
  if (!path.startsWith(ADMIN_PATHS.adminPrefix)) throw new GatehouseError('GH_NOT_FOUND', 'not found');
  note.call = `${req.method} ${path}`.slice(0, 256);
  note.authorized = isAdminAuthorized(req, deps.token());
  if (!note.authorized) {
    throw new AdminError('GH_UNAUTHENTICATED', deps.token() ? 'admin bearer token required' : 'admin API disabled: set admin.token', {
      'www-authenticate': 'Bearer realm="gatehouse-admin"',
    });
  }
  if (path === ADMIN_PATHS.reload) {
    if (req.method !== 'POST') throw methodNotAllowed('POST');
    const r = await deps.reload();
    if (!r.ok) throw new GatehouseError('GH_RELOAD_FAILED', r.error);
    return sendJson(ax, 200, { status: 'reloaded', warnings: r.warnings });
  }
  const pats = deps.pats?.();
  if (pats && (await handleTokensApi(ax, path, query, pats, { log: deps.log, note }))) return;
  const sessionsDeps = {
    log: deps.log,
    note,
    onAuthEvent: deps.onAuthEvent,
    revokeTokens: (user: string) => revokeUserTokens(pats, user, deps.log),
  };
  if (await handleSessionsApi(ax, path, query, deps.sessions(), sessionsDeps)) return;
  if (deps.directory && (await handleUsersApi(ax, path, { log: deps.log, note, sessions: deps.sessions(), pats, ...deps.directory() })))
    return;
  throw new GatehouseError('GH_NOT_FOUND', 'no such admin endpoint');
}

/** /readyz: 200 or 503 with the checks; a check that itself fails is "not ready", never a 500. */
async function sendReadiness(ax: AdminExchange, deps: AdminDeps): Promise<void> {
  let r: ReadyReport;
  try {
    r = await deps.ready();
  } catch {
    return sendJson(ax, 503, { status: 'not ready', checks: { readiness: 'check failed' } });
  }
  sendJson(ax, r.ok ? 200 : 503, {
    status: r.ok ? 'ready' : 'not ready',
    checks: r.checks,
    ...(r.identityProviders ? { identity_providers: r.identityProviders } : {}),
  });
}

/**
 * The request-target as the admin API reads it: origin-form only (an absolute-form "GET http://x/"
 * has no business here), matched as sent — never normalised — so the path that is checked is the
 * path that is served. Dot segments, empty segments, "\\" and "#" are refused rather than resolved:
 * "/admin/users/bob/../alice/sessions" must not quietly revoke alice.
 */
function parseTarget(target: string): { path: string; query: URLSearchParams } | undefined {
  if (!target.startsWith('/') || target.includes('#') || target.includes('\\')) return undefined;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (path.includes('//') || path.split('/').some((segment) => segment === '.' || segment === '..')) return undefined;
  return { path, query: new URLSearchParams(q === -1 ? '' : target.slice(q + 1)) };
}
