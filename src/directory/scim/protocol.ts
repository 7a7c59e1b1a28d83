// SCIM 2.0 wire basics (RFC 7644): schema URNs, the error shape of §3.12 with its scimType, and
// the lenient reading of values real clients send — Entra ID writes booleans as "True"/"False"
// strings and capitalises operation names ("Replace"), and attribute names are case-insensitive.

export const SCIM_CONTENT_TYPE = 'application/scim+json';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type ScimType =
  | 'invalidFilter'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'invalidValue'
  | 'noTarget'
  | 'uniqueness'
  | 'mutability'
  | 'tooMany'
  | 'sensitive';

/** An error answered as RFC 7644 §3.12 says: {schemas, status (a string), scimType, detail}. */
export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, detail: string, scimType?: ScimType, headers: Readonly<Record<string, string>> = {}) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
    this.headers = headers;
  }

  body(): Record<string, unknown> {
    return {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.message,
    };
  }
}

export const badRequest = (detail: string, scimType: ScimType = 'invalidValue') => new ScimError(400, detail, scimType);
export const notFound = (what: string) => new ScimError(404, `${what} not found`);

/** A boolean as sent: true/false, or Entra's "True"/"False" strings. */
export function scimBoolean(v: unknown, what: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw badRequest(`${what} must be a boolean`);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Case-insensitive attribute lookup (RFC 7643 §2.1). */
export function attr(o: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(o, name)) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

export function optionalString(o: Record<string, unknown>, name: string, max = 1024): string | undefined {
  const v = attr(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${name} must be a string of at most ${max} characters`);
  return v;
}

/** One `attr eq "value"` clause of a list filter (RFC 7644 §3.4.2.2), the only operator served. */
export interface EqClause {
  readonly attr: string;
  readonly value: string;
}

const CLAUSE = /^\s*([A-Za-z][\w.:-]*)\s+eq\s+("(?:[^"\\]|\\.)*"|true|false)\s*$/i;

/** `a eq "x"` and `a eq "x" and b eq "y"`; anything else is 400 invalidFilter. Attribute names lower-cased. */
export function parseFilter(filter: string, allowed: readonly string[]): EqClause[] {
  if (filter.length > 1024) throw badRequest('filter too long', 'invalidFilter');
  const parts = splitAnd(filter);
  const clauses = parts.map((p) => {
    const m = CLAUSE.exec(p);
    if (!m) throw badRequest(`unsupported filter "${p.trim().slice(0, 100)}": only attribute eq "value" (and "and")`, 'invalidFilter');
    const name = m[1]!.replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, '').toLowerCase();
    if (!allowed.includes(name)) throw badRequest(`filtering on "${m[1]}" is not supported (${allowed.join(', ')})`, 'invalidFilter');
    const raw = m[2]!;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.toLowerCase();
    return { attr: name, value };
  });
  if (clauses.length === 0) throw badRequest('empty filter', 'invalidFilter');
  return clauses;
}

/** Split on " and " outside quoted strings. */
function splitAnd(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && /\s/.test(c!) && /^\s+and\s+/i.test(s.slice(i))) {
      const m = /^\s+and\s+/i.exec(s.slice(i))!;
      out.push(s.slice(start, i));
      i += m[0].length - 1;
      start = i + 1;
    }
  }
  if (quoted) throw badRequest('unterminated string in filter', 'invalidFilter');
  out.push(s.slice(start));
  return out;
}

/** startIndex (1-based) and count as RFC 7644 §3.4.2.4 reads them: out-of-range values are clamped. */
export function pageOf(query: URLSearchParams, max = 1000): { startIndex: number; count: number } {
  const int = (name: string, fallback: number) => {
    const v = query.get(name);
    if (v === null || v === '') return fallback;
    if (!/^-?\d+$/.test(v)) throw badRequest(`${name} must be an integer`, 'invalidValue');
    return Number(v);
  };
  return { startIndex: Math.max(1, int('startIndex', 1)), count: Math.min(max, Math.max(0, int('count', 100))) };
}
