// The SCIM 2.0 service provider at /.gatehouse/scim/v2/ (RFC 7644) on the public listener, so
// cloud IdPs (Okta, Entra ID, OneLogin, JumpCloud) can reach it. Its own credential: the
// `Authorization: Bearer <scim.token>` header, compared in constant time; no session or user
// identity is involved. Bodies are capped (scim.max_body, 413) and requests rate-limited per
// replica (scim.rate_limit, 429). Every answer is application/scim+json; errors per §3.12.
//
// Effects: a user set inactive (POST/PUT/PATCH active:false) or deleted is offboarded at once —
// every session, live connection and token, on every replica (offboard.ts) — and stays refused at
// sign-in and on every request until reactivated (a deleted user keeps an inactive marker). Group
// changes reach every replica's per-request identity within 1 s (directory.ts notifications).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ScimConfig } from '../../config/types.ts';
import { GatehouseError } from '../../errors.ts';
import { readBody } from '../../http/body.ts';
import type { Exchange } from '../../http/exchange.ts';
import { sendBody } from '../../http/respond.ts';
import { DirectoryBusy, DirectoryConflict, type Directory, type DirectoryGroup, type DirectoryUser } from '../directory.ts';
import type { Offboarding } from '../offboard.ts';
import { listOf, resourceTypes, schemas, serviceProviderConfig } from './discovery.ts';
import { badRequest, notFound, pageOf, parseFilter, SCIM_CONTENT_TYPE, ScimError, type EqClause } from './protocol.ts';
import { applyPatch, etag, groupFields, groupResource, userFields, userResource } from './resources.ts';

/** Where the service provider answers (DESIGN.md: `/.gatehouse/scim/v2/`). */
export const SCIM_PREFIX = '/.gatehouse/scim/v2';

export function isScimPath(path: string): boolean {
  return path === SCIM_PREFIX || path.startsWith(`${SCIM_PREFIX}/`);
}

export interface ScimDeps {
  readonly config: ScimConfig | undefined;
  readonly directory: Directory;
  readonly offboarding: Offboarding;
  /** server.public_url: resource locations are absolute URLs under it. */
  readonly publicUrl: string;
}

/** One fixed one-minute window per scim config (a reload starts a new one). */
const windows = new WeakMap<ScimConfig, { start: number; count: number }>();

export async function handleScim(ex: Exchange, deps: ScimDeps): Promise<void> {
  ex.decision = 'deny';
  try {
    const config = deps.config;
    if (!config) throw new ScimError(404, 'SCIM is not enabled (set scim.token)');
    rateLimit(config);
    if (!authorized(ex, config)) {
      ex.event({ action: 'bearer_rejected', outcome: 'failure', reason: 'scim_token', message: 'SCIM request without a valid scim.token' });
      throw new ScimError(401, 'a valid bearer token (scim.token) is required', undefined, {
        'www-authenticate': 'Bearer realm="gatehouse-scim"',
      });
    }
    ex.decision = 'allow';
    await route(ex, deps, config);
  } catch (err) {
    const e = toScimError(err);
    ex.errorCode = e.status === 413 ? 'GH_PAYLOAD_TOO_LARGE' : e.status === 429 ? 'GH_RATE_LIMITED' : ex.errorCode;
    send(ex, e.status, e.body(), e.headers);
  }
}

function toScimError(err: unknown): ScimError {
  if (err instanceof ScimError) return err;
  if (err instanceof DirectoryConflict) return new ScimError(409, err.message, 'uniqueness');
  if (err instanceof DirectoryBusy) return new ScimError(503, err.message, undefined, { 'retry-after': '1' });
  if (err instanceof GatehouseError) {
    if (err.code === 'GH_PAYLOAD_TOO_LARGE') return new ScimError(413, err.message);
    if (err.status < 500) return new ScimError(err.status, err.message);
    return new ScimError(err.status === 503 ? 503 : 500, err.status === 503 ? 'directory store unavailable' : 'internal error');
  }
  return new ScimError(500, 'internal error');
}

function rateLimit(config: ScimConfig): void {
  if (config.ratePerMinute === 0) return;
  const now = Date.now();
  let w = windows.get(config);
  if (!w || now - w.start >= 60_000) windows.set(config, (w = { start: now, count: 0 }));
  if (++w.count > config.ratePerMinute) {
    const retry = Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
    throw new ScimError(429, 'too many SCIM requests', undefined, { 'retry-after': String(retry) });
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function authorized(ex: Exchange, config: ScimConfig): boolean {
  const header = ex.req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  // Hashes of equal length: the comparison takes the same time whatever was sent.
  return m !== null && timingSafeEqual(digest(m[1]!), digest(config.token.value()));
}

function send(ex: Exchange, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (status === 204) {
    sendBody(ex, 204, SCIM_CONTENT_TYPE, '', { ...headers });
    return;
  }
  sendBody(ex, status, SCIM_CONTENT_TYPE, JSON.stringify(body), { 'cache-control': 'no-store', ...headers });
}

/** Who asked, for the audit records: the IdP as far as its client says (never a credential). */
function actorOf(ex: Exchange): string {
  const ua = String(ex.req.headers['user-agent'] ?? '');
  if (/okta/i.test(ua)) return 'scim:okta';
  if (/azure|microsoft|entra|aad/i.test(ua)) return 'scim:entra';
  return 'scim';
}

async function readJson(ex: Exchange, config: ScimConfig): Promise<unknown> {
  const raw = await readBody(ex.req, config.maxBodyBytes);
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw badRequest('the body is not valid JSON', 'invalidSyntax');
  }
}

async function route(ex: Exchange, deps: ScimDeps, config: ScimConfig): Promise<void> {
  const base = new URL(SCIM_PREFIX, deps.publicUrl).href;
  const rest = ex.path.slice(SCIM_PREFIX.length).replace(/\/$/, '');
  const [, collection, id, extra] = rest.split('/');
  const method = ex.req.method ?? 'GET';
  const query = new URLSearchParams(ex.query.replace(/^\?/, ''));
  const read = method === 'GET' || method === 'HEAD';
  if (extra !== undefined || collection === undefined) throw new ScimError(404, 'no SCIM endpoint at this path');
  switch (collection) {
    case 'ServiceProviderConfig':
      if (!read || id !== undefined) throw notAllowed('GET');
      return send(ex, 200, serviceProviderConfig(base, config.maxBodyBytes));
    case 'ResourceTypes':
    case 'Schemas': {
      if (!read) throw notAllowed('GET');
      const all = collection === 'ResourceTypes' ? resourceTypes(base) : schemas(base);
      if (id === undefined) return send(ex, 200, listOf(all));
      const one = all.find((r) => r.id === decodeURIComponent(id));
      if (!one) throw notFound(`${collection.slice(0, -1)} ${id}`);
      return send(ex, 200, one);
    }
    case 'Users':
      return users(ex, deps, config, base, method, id, query);
    case 'Groups':
      return groups(ex, deps, config, base, method, id, query);
  }
  throw new ScimError(404, 'no SCIM endpoint at this path');
}

const notAllowed = (allow: string) => new ScimError(405, `method not allowed here (${allow})`, undefined, { allow });

/** Users SCIM serves: those it provisioned (not the inactive markers left by signals or deletes). */
const provisioned = (u: DirectoryUser | undefined): u is DirectoryUser => u !== undefined && u.source === 'scim';

async function users(
  ex: Exchange,
  deps: ScimDeps,
  config: ScimConfig,
  base: string,
  method: string,
  id: string | undefined,
  query: URLSearchParams,
): Promise<void> {
  const { directory, offboarding } = deps;
  const actor = actorOf(ex);
  const resource = async (u: DirectoryUser) => userResource(u, base, await directory.memberOf(u.id));
  const answer = async (status: number, u: DirectoryUser) =>
    send(ex, status, await resource(u), {
      etag: etag(u.version),
      ...(status === 201 ? { location: `${base}/Users/${u.id}` } : {}),
    });
  /** active:false, now: end everything the user holds, everywhere. */
  const effects = async (before: DirectoryUser | undefined, after: DirectoryUser) => {
    if (!after.active && (before === undefined || before.active || before.user !== after.user))
      await offboarding.offboardUser(after.user, { reason: 'scim_deactivated', actor });
  };
  if (id === undefined) {
    if (method === 'GET' || method === 'HEAD') {
      const found = await findUsers(directory, query.get('filter'));
      return send(ex, 200, await page(found, query, resource));
    }
    if (method !== 'POST') throw notAllowed('GET, POST');
    const fields = userFields(await readJson(ex, config), config.userKey);
    const existing = await directory.findUsers({ attr: 'userName', value: fields.userName });
    if (existing.some(provisioned)) throw new ScimError(409, `userName ${fields.userName} already exists`, 'uniqueness');
    const { user } = await directory.upsertUser(fields, actor);
    await effects(undefined, user);
    return answer(201, user);
  }
  if (method === 'PUT' || method === 'PATCH' || method === 'DELETE') {
    // A read-modify-write: one at a time per resource, across replicas.
    return directory.exclusive(`u:${decodeURIComponent(id)}`, () => user(ex, deps, config, method, id, resource, answer, effects));
  }
  return user(ex, deps, config, method, id, resource, answer, effects);
}

async function user(
  ex: Exchange,
  deps: ScimDeps,
  config: ScimConfig,
  method: string,
  id: string,
  resource: (u: DirectoryUser) => Promise<Record<string, unknown>>,
  answer: (status: number, u: DirectoryUser) => Promise<void>,
  effects: (before: DirectoryUser | undefined, after: DirectoryUser) => Promise<void>,
): Promise<void> {
  const { directory, offboarding } = deps;
  const actor = actorOf(ex);
  const current = await directory.getUserById(decodeURIComponent(id));
  if (!provisioned(current)) throw notFound(`User ${id}`);
  switch (method) {
    case 'GET':
    case 'HEAD':
      return answer(200, current);
    case 'PUT': {
      const fields = userFields(await readJson(ex, config), config.userKey);
      const { user } = await directory.upsertUser(fields, actor, current.id);
      await effects(current, user);
      return answer(200, user);
    }
    case 'PATCH': {
      const patched = applyPatch(await resource(current), await readJson(ex, config));
      const { user } = await directory.upsertUser(userFields(patched, config.userKey), actor, current.id);
      await effects(current, user);
      return answer(200, user);
    }
    case 'DELETE': {
      await directory.deleteUser(current.id, actor);
      // Deleted at the IdP: still refused here (an inactive marker) until provisioned again.
      await directory.setActive(current.user, false, actor);
      await offboarding.offboardUser(current.user, { reason: 'scim_deleted', actor });
      return send(ex, 204, undefined);
    }
  }
  throw notAllowed('GET, PUT, PATCH, DELETE');
}

async function findUsers(directory: Directory, filter: string | null): Promise<DirectoryUser[]> {
  if (filter === null || filter.trim() === '') return (await directory.findUsers()).filter(provisioned);
  const clauses = parseFilter(filter, ['username', 'externalid', 'id', 'emails.value', 'emails']);
  let result: DirectoryUser[] | undefined;
  for (const c of clauses) {
    const hits = (await usersMatching(directory, c)).filter(provisioned);
    result = result === undefined ? hits : result.filter((u) => hits.some((h) => h.id === u.id));
  }
  return result ?? [];
}

async function usersMatching(directory: Directory, c: EqClause): Promise<DirectoryUser[]> {
  switch (c.attr) {
    case 'username':
      return directory.findUsers({ attr: 'userName', value: c.value });
    case 'externalid':
      return directory.findUsers({ attr: 'externalId', value: c.value });
    case 'id':
      return directory.findUsers({ attr: 'id', value: c.value });
    default: {
      const lower = c.value.toLowerCase();
      return (await directory.findUsers()).filter((u) => u.emails?.some((e) => e.value.toLowerCase() === lower));
    }
  }
}

async function groups(
  ex: Exchange,
  deps: ScimDeps,
  config: ScimConfig,
  base: string,
  method: string,
  id: string | undefined,
  query: URLSearchParams,
): Promise<void> {
  const { directory } = deps;
  const actor = actorOf(ex);
  const withMembers = !/(^|,)\s*members\s*(,|$)/i.test(query.get('excludedAttributes') ?? '');
  const resource = async (g: DirectoryGroup) => {
    const members = withMembers ? (await Promise.all(g.members.map((m) => directory.getUserById(m)))).filter(provisioned) : [];
    return groupResource(g, base, members, withMembers);
  };
  const answer = async (status: number, g: DirectoryGroup) =>
    send(ex, status, await resource(g), {
      etag: etag(g.version),
      ...(status === 201 ? { location: `${base}/Groups/${g.id}` } : {}),
    });
  if (id === undefined) {
    if (method === 'GET' || method === 'HEAD') {
      const found = await findGroups(directory, query.get('filter'));
      return send(ex, 200, await page(found, query, resource));
    }
    if (method !== 'POST') throw notAllowed('GET, POST');
    const fields = groupFields(await readJson(ex, config));
    if ((await directory.findGroups({ attr: 'displayName', value: fields.displayName })).length > 0)
      throw new ScimError(409, `group ${fields.displayName} already exists`, 'uniqueness');
    const { group } = await directory.upsertGroup(fields, actor);
    return answer(201, group);
  }
  if (method === 'PUT' || method === 'PATCH' || method === 'DELETE')
    return directory.exclusive(`g:${decodeURIComponent(id)}`, () => group(ex, deps, config, base, method, id, answer));
  return group(ex, deps, config, base, method, id, answer);
}

async function group(
  ex: Exchange,
  deps: ScimDeps,
  config: ScimConfig,
  base: string,
  method: string,
  id: string,
  answer: (status: number, g: DirectoryGroup) => Promise<void>,
): Promise<void> {
  const { directory } = deps;
  const actor = actorOf(ex);
  const current = await directory.getGroup(decodeURIComponent(id));
  if (!current) throw notFound(`Group ${id}`);
  switch (method) {
    case 'GET':
    case 'HEAD':
      return answer(200, current);
    case 'PUT': {
      const { group } = await directory.upsertGroup(groupFields(await readJson(ex, config)), actor, current.id);
      return answer(200, group);
    }
    case 'PATCH': {
      // Patched on the full form (members included), whatever excludedAttributes said.
      const full = groupResource(
        current,
        base,
        current.members.map((m) => ({ id: m }) as DirectoryUser),
      );
      const patched = applyPatch(full, await readJson(ex, config));
      const { group } = await directory.upsertGroup(groupFields(patched), actor, current.id);
      return answer(200, group);
    }
    case 'DELETE':
      await directory.deleteGroup(current.id, actor);
      return send(ex, 204, undefined);
  }
  throw notAllowed('GET, PUT, PATCH, DELETE');
}

async function findGroups(directory: Directory, filter: string | null): Promise<DirectoryGroup[]> {
  if (filter === null || filter.trim() === '') return directory.findGroups();
  const clauses = parseFilter(filter, ['displayname', 'externalid', 'id', 'members', 'members.value']);
  let result: DirectoryGroup[] | undefined;
  for (const c of clauses) {
    const hits =
      c.attr === 'displayname'
        ? await directory.findGroups({ attr: 'displayName', value: c.value })
        : c.attr === 'externalid'
          ? await directory.findGroups({ attr: 'externalId', value: c.value })
          : c.attr === 'id'
            ? await directory.findGroups({ attr: 'id', value: c.value })
            : await directory.memberOf(c.value);
    result = result === undefined ? hits : result.filter((g) => hits.some((h) => h.id === g.id));
  }
  return result ?? [];
}

async function page<T>(all: readonly T[], query: URLSearchParams, render: (r: T) => Promise<unknown>): Promise<Record<string, unknown>> {
  const { startIndex, count } = pageOf(query);
  const slice = all.slice(startIndex - 1, startIndex - 1 + count);
  return listOf(await Promise.all(slice.map(render)), all.length, startIndex);
}
