// SCIM Users and Groups (RFC 7643 §4) to and from the directory's entries, and PATCH (RFC 7644
// §3.5.2) applied to a resource's SCIM form: the patched form is then read like a PUT body, so
// PATCH and PUT cannot disagree on what a resource may hold. What Gatehouse does not keep
// (passwords, phone numbers, the enterprise extension) is accepted and dropped, never stored.
import type { DirectoryGroup, DirectoryUser, GroupFields, UserFields } from '../directory.ts';
import { attr, badRequest, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, isObject, optionalString, scimBoolean, USER_SCHEMA } from './protocol.ts';

export type UserKey = 'email' | 'userName' | 'externalId';
type Doc = Record<string, unknown>;

/** The SCIM form of a user; `groups` are the groups it is a member of (read-only in SCIM). */
export function userResource(u: DirectoryUser, base: string, groups: readonly DirectoryGroup[]): Doc {
  return {
    schemas: [USER_SCHEMA],
    id: u.id,
    ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
    userName: u.userName,
    ...(u.name ? { name: u.name } : {}),
    ...(u.displayName !== undefined ? { displayName: u.displayName } : {}),
    ...(u.emails ? { emails: u.emails } : {}),
    active: u.active,
    groups: groups.map((g) => ({ value: g.id, display: g.displayName, $ref: `${base}/Groups/${g.id}` })),
    meta: meta('User', u, `${base}/Users/${u.id}`),
  };
}

export function groupResource(g: DirectoryGroup, base: string, members: readonly DirectoryUser[], withMembers = true): Doc {
  return {
    schemas: [GROUP_SCHEMA],
    id: g.id,
    ...(g.externalId !== undefined ? { externalId: g.externalId } : {}),
    displayName: g.displayName,
    ...(withMembers ? { members: members.map((u) => ({ value: u.id, display: u.userName, $ref: `${base}/Users/${u.id}` })) } : {}),
    meta: meta('Group', g, `${base}/Groups/${g.id}`),
  };
}

function meta(resourceType: string, r: { created: string; lastModified: string; version: number }, location: string) {
  return { resourceType, created: r.created, lastModified: r.lastModified, location, version: etag(r.version) };
}

export const etag = (version: number) => `W/"${version}"`;

/** A User body (POST, PUT, or a patched form) as directory fields; `userKey` picks the Gatehouse user. */
export function userFields(body: unknown, userKey: UserKey): UserFields {
  if (!isObject(body)) throw badRequest('the body must be a JSON object', 'invalidSyntax');
  const userName = optionalString(body, 'userName', 256);
  if (!userName?.trim()) throw badRequest('userName is required');
  const externalId = optionalString(body, 'externalId', 256);
  const displayName = optionalString(body, 'displayName', 256);
  const activeRaw = attr(body, 'active');
  const active = activeRaw === undefined || activeRaw === null ? true : scimBoolean(activeRaw, 'active');
  const emails = readEmails(attr(body, 'emails'));
  const name = readName(attr(body, 'name'));
  const primary = emails?.find((e) => e.primary) ?? emails?.[0];
  let user: string | undefined;
  if (userKey === 'email') user = primary?.value ?? userName;
  else if (userKey === 'userName') user = userName;
  else user = externalId;
  if (!user) throw badRequest(`scim.user_key is ${userKey}: the user needs ${userKey === 'externalId' ? 'an externalId' : 'an e-mail'}`);
  return {
    user,
    userName,
    active,
    ...(externalId !== undefined ? { externalId } : {}),
    ...(displayName !== undefined ? { displayName } : {}),
    ...(emails ? { emails } : {}),
    ...(name ? { name } : {}),
  };
}

function readEmails(v: unknown): UserFields['emails'] {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > 20) throw badRequest('emails must be an array (at most 20)');
  return v.flatMap((e) => {
    if (!isObject(e)) throw badRequest('each of emails must be an object');
    const value = optionalString(e, 'value', 320);
    if (!value) return [];
    const type = optionalString(e, 'type', 64);
    const p = attr(e, 'primary');
    const primary = p === undefined || p === null ? undefined : scimBoolean(p, 'emails.primary');
    return [{ value, ...(primary !== undefined ? { primary } : {}), ...(type !== undefined ? { type } : {}) }];
  });
}

const NAME_PARTS = ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'];

function readName(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw badRequest('name must be an object');
  const out: Record<string, string> = {};
  for (const part of NAME_PARTS) {
    const s = optionalString(v, part, 256);
    if (s !== undefined) out[part] = s;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A Group body as directory fields: members are user ids. */
export function groupFields(body: unknown): GroupFields {
  if (!isObject(body)) throw badRequest('the body must be a JSON object', 'invalidSyntax');
  const displayName = optionalString(body, 'displayName', 256);
  if (!displayName?.trim()) throw badRequest('displayName is required');
  const externalId = optionalString(body, 'externalId', 256);
  return { displayName, ...(externalId !== undefined ? { externalId } : {}), members: readMembers(attr(body, 'members')) };
}

function readMembers(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 10_000) throw badRequest('members must be an array (at most 10000)');
  return v.map((m) => {
    const value = isObject(m) ? attr(m, 'value') : undefined;
    if (typeof value !== 'string' || !value) throw badRequest('each member needs a "value" (the user id)');
    return value;
  });
}

// --- PATCH ---------------------------------------------------------------------------------------

interface Path {
  readonly attr: string;
  readonly filter?: { readonly attr: string; readonly value: string | boolean } | undefined;
  readonly sub?: string | undefined;
}

const CORE_PREFIX = /^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i;
const PATH = /^([A-Za-z$][\w$-]*)(?:\[\s*([A-Za-z][\w.]*)\s+eq\s+("(?:[^"\\]|\\.)*"|'[^']*'|true|false)\s*\])?(?:\.([A-Za-z][\w]*))?$/i;

/** undefined: an extension attribute Gatehouse does not keep (the operation is accepted and dropped). */
function parsePath(raw: string): Path | undefined {
  const p = raw.trim().replace(CORE_PREFIX, '');
  if (/^urn:/i.test(p) || p.startsWith(ENTERPRISE_USER_SCHEMA)) return undefined;
  const m = PATH.exec(p);
  if (!m) throw badRequest(`unsupported path "${raw.slice(0, 100)}"`, 'invalidPath');
  let filter: Path['filter'];
  if (m[2]) {
    const v = m[3]!;
    const value = v.startsWith('"') ? (JSON.parse(v) as string) : v.startsWith("'") ? v.slice(1, -1) : v.toLowerCase() === 'true';
    filter = { attr: m[2].replace(/^value$/i, 'value'), value };
  }
  return { attr: m[1]!, filter, sub: m[4] };
}

/** The key of `name` in `doc`, matched case-insensitively; `name` itself when absent. */
function keyOf(doc: Doc, name: string): string {
  const lower = name.toLowerCase();
  return Object.keys(doc).find((k) => k.toLowerCase() === lower) ?? name;
}

const MULTI = new Set([
  'emails',
  'members',
  'phonenumbers',
  'addresses',
  'roles',
  'groups',
  'entitlements',
  'ims',
  'photos',
  'x509certificates',
]);

function matches(item: unknown, filter: NonNullable<Path['filter']>): boolean {
  if (!isObject(item)) return false;
  const v = attr(item, filter.attr);
  if (typeof filter.value === 'boolean') return v === filter.value || (typeof v === 'string' && v.toLowerCase() === String(filter.value));
  return typeof v === 'string' && v.toLowerCase() === filter.value.toLowerCase();
}

/** Apply RFC 7644 §3.5.2 operations to a resource's SCIM form (a copy is patched and returned). */
export function applyPatch(resource: Doc, body: unknown): Doc {
  if (!isObject(body)) throw badRequest('the body must be a JSON object', 'invalidSyntax');
  const ops = attr(body, 'Operations');
  if (!Array.isArray(ops) || ops.length === 0) throw badRequest('Operations must be a non-empty array', 'invalidSyntax');
  if (ops.length > 1000) throw badRequest('too many operations', 'tooMany');
  const doc = structuredClone(resource);
  for (const op of ops) {
    if (!isObject(op)) throw badRequest('each operation must be an object', 'invalidSyntax');
    const name = attr(op, 'op');
    if (typeof name !== 'string' || !/^(add|replace|remove)$/i.test(name))
      throw badRequest('op must be add, replace or remove', 'invalidSyntax');
    const kind = name.toLowerCase() as 'add' | 'replace' | 'remove';
    const rawPath = attr(op, 'path');
    const value = attr(op, 'value');
    if (rawPath === undefined || rawPath === null || rawPath === '') {
      if (kind === 'remove') throw badRequest('remove needs a path', 'noTarget');
      if (!isObject(value)) throw badRequest('an operation without a path needs an object value', 'invalidValue');
      for (const [k, v] of Object.entries(value)) {
        const path = parsePath(k);
        if (path) applyOne(doc, kind, path, v);
      }
      continue;
    }
    if (typeof rawPath !== 'string') throw badRequest('path must be a string', 'invalidPath');
    const path = parsePath(rawPath);
    if (path) applyOne(doc, kind, path, value);
  }
  return doc;
}

function applyOne(doc: Doc, kind: 'add' | 'replace' | 'remove', path: Path, value: unknown): void {
  const key = keyOf(doc, path.attr);
  const multi = MULTI.has(path.attr.toLowerCase());
  if (kind === 'remove') {
    if (!path.filter && !path.sub && multi && Array.isArray(value)) {
      // Entra: {"op":"Remove","path":"members","value":[{"value":"<id>"}]} removes those members.
      const gone = new Set(value.map((v) => (isObject(v) ? String(attr(v, 'value')) : String(v))));
      const list = Array.isArray(doc[key]) ? (doc[key] as unknown[]) : [];
      doc[key] = list.filter((item) => !(isObject(item) && gone.has(String(attr(item, 'value')))));
      return;
    }
    if (path.filter) {
      const list = Array.isArray(doc[key]) ? (doc[key] as unknown[]) : [];
      if (path.sub) for (const item of list) if (matches(item, path.filter) && isObject(item)) delete item[keyOf(item, path.sub)];
      doc[key] = path.sub ? list : list.filter((item) => !matches(item, path.filter!));
      return;
    }
    if (path.sub) {
      const parent = doc[key];
      if (isObject(parent)) delete parent[keyOf(parent, path.sub)];
      return;
    }
    delete doc[key];
    return;
  }
  if (path.filter) {
    // emails[type eq "work"].value = x: change the matching entries, or add one that matches.
    const list = Array.isArray(doc[key]) ? (doc[key] as unknown[]) : [];
    const hits = list.filter((item) => matches(item, path.filter!)) as Doc[];
    if (hits.length === 0) {
      if (!path.sub && !isObject(value)) throw badRequest(`no ${path.attr} entry matches the filter`, 'noTarget');
      const entry: Doc = { [path.filter.attr]: path.filter.value };
      if (path.sub) entry[path.sub] = value;
      else Object.assign(entry, value);
      list.push(entry);
    } else {
      for (const item of hits) {
        if (path.sub) item[keyOf(item, path.sub)] = value;
        else if (isObject(value)) Object.assign(item, value);
      }
    }
    doc[key] = list;
    return;
  }
  if (path.sub) {
    const parent = isObject(doc[key]) ? (doc[key] as Doc) : {};
    parent[keyOf(parent, path.sub)] = value;
    doc[key] = parent;
    return;
  }
  if (multi && kind === 'add') {
    // add to a multi-valued attribute appends (RFC 7644 §3.5.2.1), skipping values already there.
    const list = Array.isArray(doc[key]) ? (doc[key] as unknown[]) : [];
    const adds = Array.isArray(value) ? value : [value];
    const seen = new Set(list.map((item) => (isObject(item) ? String(attr(item, 'value')) : String(item))));
    for (const v of adds) if (!(isObject(v) && seen.has(String(attr(v, 'value'))))) list.push(v);
    doc[key] = list;
    return;
  }
  if (isObject(value) && isObject(doc[key]) && kind === 'add') {
    Object.assign(doc[key] as Doc, value);
    return;
  }
  doc[key] = value;
}
