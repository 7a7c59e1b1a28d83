// /.gatehouse/tokens: the signed-in user's personal access tokens (auth/bearer/pat.ts), on every
// host Gatehouse serves. A page for browsers and the same operations as JSON for scripts
// (Accept: application/json, errors as JSON too):
//   GET    /.gatehouse/tokens          list (JSON: with the csrf value the changes need)
//   POST   /.gatehouse/tokens          create (form: csrf, action=create, name, routes…, expires_in_days;
//                                      JSON body {name, routes, expires_in_days}, X-CSRF-Token header)
//                                      or revoke (form: csrf, action=revoke, id)
//   DELETE /.gatehouse/tokens/<id>     revoke (X-CSRF-Token header)
// Only a session may use it (a token cannot mint or end tokens); every change needs the session's
// CSRF token (session/csrf.ts), from the form or the X-CSRF-Token header. A new token is shown
// once, in the answer to its creation; the request record of a change names the token's id.
import type { PatRecord, ListedPat } from '../session/pat-store.ts';
import type { SessionManager } from '../session/manager.ts';
import { GatehouseError } from '../errors.ts';
import type { Exchange } from '../http/exchange.ts';
import { readBody } from '../http/body.ts';
import { TOKENS_PATH } from '../http/endpoints.ts';
import { escapeHtml, renderPage } from '../http/pages.ts';
import { sendBody, wantsHtml } from '../http/respond.ts';
import { patSummary, type Pats } from './bearer/pat.ts';

const DAY_MS = 86_400_000;
const BODY_LIMIT = 16 * 1024;
export const CSRF_HEADER = 'x-csrf-token';

export async function handleTokensPage(ex: Exchange, pats: Pats, sessions: SessionManager): Promise<void> {
  const json = !wantsHtml(ex.req);
  ex.browser = !json;
  if (!pats.config.enabled) throw new GatehouseError('GH_NOT_FOUND', 'Personal access tokens are turned off here (tokens.pat.enabled).');
  const session = ex.session;
  if (!session) throw new GatehouseError('GH_UNAUTHENTICATED', 'Sign in to manage your personal access tokens.');
  const owner = session.record;
  const method = ex.req.method;
  const sub = ex.path.slice(TOKENS_PATH.length);
  const csrfOk = (given: string | null | undefined) => sessions.verifyCsrf(session.key, given ?? '');
  const refuseCsrf = () => {
    throw new GatehouseError('GH_BAD_CSRF', 'The token form expired or did not come from this site. Reload the page and try again.');
  };
  const own = async (id: string): Promise<PatRecord> => {
    // Ids are 16 hex digits: anything else names no token (and never reaches the store).
    const r = /^[0-9a-f]{16}$/.test(id) ? await pats.store.get(id) : undefined;
    // Someone else's token is as unknown as a missing one.
    if (!r || r.user !== owner.user) throw new GatehouseError('GH_NOT_FOUND', 'You have no token with this id.');
    return r;
  };

  if (sub.startsWith('/') && sub.length > 1) {
    if (method !== 'DELETE') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Use DELETE to revoke a token.');
    if (!csrfOk(header(ex, CSRF_HEADER))) refuseCsrf();
    const r = await own(sub.slice(1));
    ex.token = { id: r.id, name: r.name };
    await pats.revoke(r.id);
    return sendJson(ex, 200, { revoked: 1, id: r.id });
  }
  if (sub !== '') throw new GatehouseError('GH_NOT_FOUND', 'There is no Gatehouse endpoint at this path.');

  if (method === 'GET' || method === 'HEAD') {
    const list = await pats.list(owner.user);
    if (json)
      return sendJson(ex, 200, {
        user: owner.user,
        csrf: sessions.csrfToken(session.key),
        routes: pats.routeNames,
        max_ttl_days: Math.floor(pats.config.maxTtlMs / DAY_MS),
        tokens: list.map(patSummary),
      });
    return sendHtml(ex, 200, listPage(pats, owner.user, list, sessions.csrfToken(session.key), undefined));
  }
  if (method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Use GET to list tokens, POST to create or revoke one.');

  const input = await readInput(ex);
  if (!csrfOk(input.csrf ?? header(ex, CSRF_HEADER))) refuseCsrf();
  if (input.action === 'revoke') {
    const r = await own(input.id ?? '');
    ex.token = { id: r.id, name: r.name };
    await pats.revoke(r.id);
    if (json) return sendJson(ex, 200, { revoked: 1, id: r.id });
    const list = await pats.list(owner.user);
    return sendHtml(ex, 200, listPage(pats, owner.user, list, sessions.csrfToken(session.key), `Token "${r.name}" revoked.`));
  }
  if (input.action !== 'create') throw new GatehouseError('GH_BAD_REQUEST', 'action: create or revoke');
  const days = input.expiresInDays;
  if (days !== undefined && !(Number.isFinite(days) && days > 0))
    throw new GatehouseError('GH_BAD_REQUEST', 'expires_in_days: a positive number');
  const { token, record } = await pats.create({
    owner,
    name: input.name ?? '',
    routes: input.routes,
    ttlMs: days === undefined ? undefined : Math.round(days * DAY_MS),
    by: 'user',
  });
  ex.token = { id: record.id, name: record.name };
  if (json) return sendJson(ex, 201, { ...patSummary(record), token });
  return sendHtml(
    ex,
    201,
    renderPage(
      'Token created',
      `<p>Copy your new token now: it is shown only this once, and Gatehouse keeps only its hash.</p>
<p><code style="word-break:break-all;user-select:all">${escapeHtml(token)}</code></p>
<p>Name: <strong>${escapeHtml(record.name)}</strong> · routes: ${escapeHtml(record.routes.join(', '))} · expires ${escapeHtml(new Date(record.expiresAt).toISOString())}</p>
<p>Send it as <code>Authorization: Bearer &lt;token&gt;</code>, or as <code>Proxy-Authorization: Bearer &lt;token&gt;</code> when the tool keeps its own Authorization.</p>
<p><a href="${TOKENS_PATH}">Back to your tokens</a></p>`,
    ),
  );
}

interface Input {
  readonly action: string;
  readonly csrf: string | undefined;
  readonly name: string | undefined;
  readonly routes: readonly string[];
  readonly expiresInDays: number | undefined;
  readonly id: string | undefined;
}

/** A form post or a JSON body, as one shape. */
async function readInput(ex: Exchange): Promise<Input> {
  const type = (header(ex, 'content-type') ?? '').toLowerCase();
  const body = (await readBody(ex.req, BODY_LIMIT)).toString('utf8');
  if (type.startsWith('application/json')) {
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch {
      throw new GatehouseError('GH_BAD_REQUEST', 'The body is not valid JSON.');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new GatehouseError('GH_BAD_REQUEST', 'The body must be a JSON object.');
    const o = v as Record<string, unknown>;
    const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
    if (o.routes !== undefined && !(Array.isArray(o.routes) && o.routes.every((r) => typeof r === 'string')))
      throw new GatehouseError('GH_BAD_REQUEST', 'routes: a list of route names');
    if (o.expires_in_days !== undefined && typeof o.expires_in_days !== 'number')
      throw new GatehouseError('GH_BAD_REQUEST', 'expires_in_days: a number');
    return {
      action: str('action') ?? (o.id !== undefined ? 'revoke' : 'create'),
      csrf: str('csrf'),
      name: str('name'),
      routes: (o.routes as string[] | undefined) ?? [],
      expiresInDays: o.expires_in_days as number | undefined,
      id: str('id'),
    };
  }
  if (!type.startsWith('application/x-www-form-urlencoded'))
    throw new GatehouseError('GH_BAD_REQUEST', 'Send a form (application/x-www-form-urlencoded) or JSON (application/json).');
  const form = new URLSearchParams(body);
  const days = form.get('expires_in_days');
  return {
    action: form.get('action') ?? 'create',
    csrf: form.get('csrf') ?? undefined,
    name: form.get('name') ?? undefined,
    routes: form.getAll('routes'),
    expiresInDays: days === null || days === '' ? undefined : Number(days),
    id: form.get('id') ?? undefined,
  };
}

function header(ex: Exchange, name: string): string | undefined {
  const v = ex.req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sendJson(ex: Exchange, status: number, body: unknown): void {
  sendBody(ex, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

function sendHtml(ex: Exchange, status: number, html: string): void {
  sendBody(ex, status, 'text/html; charset=utf-8', html);
}

function listPage(pats: Pats, user: string, list: readonly ListedPat[], csrf: string, notice: string | undefined): string {
  const csrfField = `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
  const day = (ms: number | undefined) =>
    ms === undefined ? 'never' : escapeHtml(new Date(ms).toISOString().slice(0, 16).replace('T', ' '));
  const rows = list
    .map(
      (t) => `<tr><td>${escapeHtml(t.name)}</td><td><code>${escapeHtml(t.id)}</code></td><td>${escapeHtml(t.routes.join(', '))}</td>
<td>${day(t.createdAt)}</td><td>${day(t.expiresAt)}</td><td>${day(t.lastUsedAt)}</td>
<td><form method="post" action="${TOKENS_PATH}">${csrfField}<input type="hidden" name="action" value="revoke"><input type="hidden" name="id" value="${escapeHtml(t.id)}"><button type="submit">Revoke</button></form></td></tr>`,
    )
    .join('\n');
  const maxDays = Math.floor(pats.config.maxTtlMs / DAY_MS);
  const defaultDays = Math.max(1, Math.floor(pats.config.defaultTtlMs / DAY_MS));
  const choices = [...new Set([7, 30, 60, 90, 180, 365, defaultDays].filter((d) => d <= maxDays))].sort((a, b) => a - b);
  if (choices.length === 0) choices.push(Math.max(1, maxDays));
  const options = choices.map((d) => `<option value="${d}"${d === defaultDays ? ' selected' : ''}>${d} days</option>`).join('');
  const routes = pats.routeNames
    .map((r) => `<label><input type="checkbox" name="routes" value="${escapeHtml(r)}"> ${escapeHtml(r)}</label><br>`)
    .join('\n');
  return renderPage(
    'Personal access tokens',
    `<p>Signed in as <strong>${escapeHtml(user)}</strong>. A token acts as you, with the groups you have now, on the routes you pick.</p>
${notice === undefined ? '' : `<p><strong>${escapeHtml(notice)}</strong></p>`}
${list.length === 0 ? '<p>You have no tokens.</p>' : `<table><tr><th>Name</th><th>ID</th><th>Routes</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr>\n${rows}</table>`}
<h2>New token</h2>
<form method="post" action="${TOKENS_PATH}">${csrfField}<input type="hidden" name="action" value="create">
<p><label>Name <input name="name" required maxlength="100"></label></p>
<p>Routes it may reach:<br>${routes}</p>
<p><label>Expires in <select name="expires_in_days">${options}</select></label></p>
<button type="submit">Create token</button></form>`,
  );
}
