// Validate an OCSF audit record against the table generated from the ocsf-schema release
// (test/fixtures/ocsf-<version>.json, made by scripts/ocsf-table.ts), applying the rules the OCSF
// server's validator does: known class, no unknown attributes, types and arrays, required
// attributes, enum values, type_uid, constraints (at_least_one / just_one), and every profile
// attribute's profile declared in metadata.profiles. Recommended attributes are not enforced.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';

export const OCSF_TABLE_VERSION = '1.6.0';

interface Attr {
  readonly t: string;
  readonly a?: true;
  readonly r: 'required' | 'recommended' | 'optional';
  readonly e?: readonly (number | string)[];
  readonly p?: string;
}
interface Shape {
  readonly attributes: Readonly<Record<string, Attr>>;
  readonly constraints: { readonly at_least_one?: readonly string[]; readonly just_one?: readonly string[] };
}
interface ClassShape extends Shape {
  readonly caption: string;
  readonly category_uid: number;
}
interface Table {
  readonly version: string;
  readonly types: Readonly<Record<string, { readonly base: string; readonly regex?: string; readonly max_len?: number }>>;
  readonly classes: Readonly<Record<string, ClassShape>>;
  readonly objects: Readonly<Record<string, Shape>>;
}

const TABLE = JSON.parse(readFileSync(resolve(import.meta.dirname, `../fixtures/ocsf-${OCSF_TABLE_VERSION}.json`), 'utf8')) as Table;

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The primitive a scalar type rests on (ip_t → string_t, port_t → integer_t, timestamp_t → long_t). */
function baseOf(t: string): string {
  let base = t;
  while (TABLE.types[base] && TABLE.types[base]!.base !== base) base = TABLE.types[base]!.base;
  return base;
}

function scalarProblem(path: string, t: string, v: unknown): string | undefined {
  const base = baseOf(t);
  const bad = (want: string) => `${path}: ${JSON.stringify(v)} is not ${want} (${t})`;
  switch (base) {
    case 'string_t': {
      if (typeof v !== 'string') return bad('a string');
      const spec = TABLE.types[t];
      if (t === 'ip_t') return isIP(v) ? undefined : bad('an IP address');
      if (spec?.max_len !== undefined && v.length > spec.max_len) return bad(`at most ${spec.max_len} characters`);
      if (spec?.regex && !new RegExp(spec.regex).test(v)) return bad('in the expected format');
      return undefined;
    }
    case 'integer_t':
    case 'long_t':
      return Number.isInteger(v) ? undefined : bad('an integer');
    case 'float_t':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : bad('a number');
    case 'boolean_t':
      return typeof v === 'boolean' ? undefined : bad('a boolean');
    case 'json_t':
      return undefined;
    default:
      return `${path}: unhandled OCSF type ${t}`;
  }
}

function valueProblems(path: string, attr: Attr, v: unknown, profiles: readonly string[]): string[] {
  if (attr.a && !Array.isArray(v)) return [`${path}: one value, OCSF expects an array`];
  if (!attr.a && Array.isArray(v)) return [`${path}: an array, OCSF expects one value`];
  const problems: string[] = [];
  const values = Array.isArray(v) ? v : [v];
  values.forEach((x, i) => {
    const at = attr.a ? `${path}[${i}]` : path;
    if (attr.t === 'object') {
      if (!isPlainObject(x)) problems.push(`${at}: not an object`);
    } else if (TABLE.objects[attr.t]) {
      if (isPlainObject(x)) problems.push(...shapeProblems(at, TABLE.objects[attr.t]!, x, profiles));
      else problems.push(`${at}: not an object (${attr.t})`);
    } else {
      const p = scalarProblem(at, attr.t, x);
      if (p) problems.push(p);
      else if (attr.e && !attr.e.includes(x as number | string)) problems.push(`${at}: ${JSON.stringify(x)} is not in the enum`);
    }
  });
  return problems;
}

function shapeProblems(prefix: string, shape: Shape, obj: Record<string, unknown>, profiles: readonly string[]): string[] {
  const problems: string[] = [];
  const name = (k: string) => (prefix ? `${prefix}.${k}` : k);
  const present = (k: string) => obj[k] !== undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const attr = shape.attributes[k];
    if (!attr) {
      problems.push(`${name(k)}: unknown attribute`);
      continue;
    }
    if (attr.p && !profiles.includes(attr.p)) problems.push(`${name(k)}: belongs to profile ${attr.p}, not in metadata.profiles`);
    problems.push(...valueProblems(name(k), attr, v, profiles));
  }
  for (const [k, attr] of Object.entries(shape.attributes)) {
    if (attr.r === 'required' && !present(k) && (!attr.p || profiles.includes(attr.p))) problems.push(`${name(k)}: required, missing`);
  }
  const { at_least_one: oneOf, just_one: justOne } = shape.constraints;
  if (oneOf && !oneOf.some(present)) problems.push(`${prefix || 'event'}: needs at least one of ${oneOf.join(', ')}`);
  if (justOne && justOne.filter(present).length !== 1) problems.push(`${prefix || 'event'}: needs exactly one of ${justOne.join(', ')}`);
  return problems;
}

export function validateOcsf(record: Record<string, unknown>): string[] {
  const cls = TABLE.classes[String(record.class_uid)];
  if (!cls) return [`class_uid: ${String(record.class_uid)} is not a class in the table`];
  const metadata = isPlainObject(record.metadata) ? record.metadata : {};
  const profiles = Array.isArray(metadata.profiles) ? (metadata.profiles as string[]) : [];
  const problems = shapeProblems('', cls, record, profiles);
  if (Number.isInteger(record.activity_id) && record.type_uid !== Number(record.class_uid) * 100 + Number(record.activity_id)) {
    problems.push(`type_uid: ${String(record.type_uid)} is not class_uid * 100 + activity_id`);
  }
  if (record.class_name !== undefined && record.class_name !== cls.caption)
    problems.push(`class_name: ${String(record.class_name)} is not ${cls.caption}`);
  if (metadata.version !== TABLE.version)
    problems.push(`metadata.version: ${String(metadata.version)} declared, validated against ${TABLE.version}`);
  return problems;
}
