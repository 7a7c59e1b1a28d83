// Admin listener router: health (is the process up), readiness (should it get traffic), Prometheus
// metrics, and /admin/* behind the bearer token (sessions API; reload arrives with #8).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Secret } from '../config/secret.ts';
import type { AuthEventInput } from '../audit/events.ts';
import type { Logger } from '../log.ts';
import type { SessionManager } from '../session/manager.ts';
import { ADMIN_PATHS } from '../http/endpoints.ts';
import { isAdminAuthorized } from './auth.ts';
import type { Metrics } from './metrics.ts';
import type { IdpReport } from './readiness.ts';
import { handleSessionsApi } from './sessions-api.ts';

export interface AdminDeps {
  readonly metrics: Metrics;
  readonly log: Logger;
  sessions(): SessionManager;
  /** Every authorised /admin/* call is an audit event. */
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

export interface ReadyReport {
  readonly ok: boolean;
  readonly checks: Record<string, string>;
  readonly identityProviders?: Record<string, IdpReport>;
}

export function createAdminHandler(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const parsed = parseTarget(req.url ?? '/');
    if (!parsed) return json(res, 400, { error: 'GH_BAD_REQUEST', message: 'bad request target' });
    const { path, query } = parsed;
    if (path === ADMIN_PATHS.healthz) return json(res, 200, { status: 'ok' });
    if (path === ADMIN_PATHS.readyz) {
      deps.ready().then(
        (r) => json(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not ready', checks: r.checks, ...(r.identityProviders ? { identity_providers: r.identityProviders } : {}) }),
        () => json(res, 503, { status: 'not ready', checks: { readiness: 'check failed' } }),
      );
      return;
    }
    if (path === ADMIN_PATHS.metrics) {
      deps.metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
          res.end(body);
        },
        () => json(res, 500, { error: 'GH_INTERNAL', message: 'metrics unavailable' }),
      );
      return;
    }
    if (path.startsWith(ADMIN_PATHS.adminPrefix)) {
      if (!isAdminAuthorized(req, deps.token())) {
        deps.onAuthEvent({ action: 'admin_api', outcome: 'failure', reason: 'unauthorized', message: `${req.method} ${path}`.slice(0, 256), clientIp: req.socket.remoteAddress });
        res.setHeader('www-authenticate', 'Bearer realm="gatehouse-admin"');
        return json(res, 401, { error: 'GH_UNAUTHENTICATED', message: deps.token() ? 'admin bearer token required' : 'admin API disabled: set admin.token' });
      }
      deps.onAuthEvent({ action: 'admin_api', outcome: 'success', reason: `${req.method} ${path}`.slice(0, 256), clientIp: req.socket.remoteAddress });
      if (path === ADMIN_PATHS.reload) {
        if (req.method !== 'POST') {
          res.setHeader('allow', 'POST');
          return json(res, 405, { error: 'GH_METHOD_NOT_ALLOWED', message: 'use POST' });
        }
        deps.reload().then((r) => json(res, r.ok ? 200 : 422, r.ok ? { status: 'reloaded', warnings: r.warnings } : { error: 'GH_CONFIG_INVALID', message: r.error }), () => json(res, 500, { error: 'GH_INTERNAL' }));
        return;
      }
      if (handleSessionsApi(req, res, path, query, deps.sessions(), deps.log, json)) return;
      return json(res, 404, { error: 'GH_NOT_FOUND', message: 'no such admin endpoint' });
    }
    return json(res, 404, { error: 'GH_NOT_FOUND', message: 'not found' });
  };
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

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
