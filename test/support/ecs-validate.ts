// Validate an ECS audit record against the official field table of the @elastic/ecs package
// (EcsFlat: every field, its type, allowed values and the event types each category expects), the
// way an Elastic ingest pipeline and dashboards read it. Returns one line per problem; [] = valid.
// Custom fields live under `gatehouse.` (ECS: custom fields go in a namespace of their own).
import { isIP } from 'node:net';
import { EcsFlat, EcsVersion } from '@elastic/ecs';

export const ECS_TABLE_VERSION: string = EcsVersion;

interface EcsField {
  readonly type: string;
  readonly normalize?: readonly string[];
  readonly required?: boolean;
  readonly allowed_values?: readonly { readonly name: string; readonly expected_event_types?: readonly string[] }[];
}

const FIELDS = EcsFlat as unknown as Readonly<Record<string, EcsField>>;
const CUSTOM = 'gatehouse.';

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Leaf paths of a record: 'event.category' → value (arrays are values, objects are walked). */
function leaves(v: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    const path = prefix + k;
    // A field typed object/flattened (labels) holds free keys: stop there.
    if (isPlainObject(x) && !['object', 'flattened'].includes(FIELDS[path]?.type ?? '')) leaves(x, `${path}.`, out);
    else out.set(path, x);
  }
  return out;
}

function typeProblem(path: string, type: string, v: unknown): string | undefined {
  const bad = (want: string) => `${path}: ${JSON.stringify(v)} is not ${want} (ECS type ${type})`;
  switch (type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'text':
    case 'match_only_text':
      return typeof v === 'string' ? undefined : bad('a string');
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'unsigned_long':
      return Number.isInteger(v) ? undefined : bad('an integer');
    case 'float':
    case 'double':
    case 'half_float':
    case 'scaled_float':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : bad('a number');
    case 'boolean':
      return typeof v === 'boolean' ? undefined : bad('a boolean');
    case 'ip':
      return typeof v === 'string' && isIP(v) !== 0 ? undefined : bad('an IP address');
    case 'date':
      return (typeof v === 'string' && !Number.isNaN(Date.parse(v))) || Number.isInteger(v) ? undefined : bad('a date');
    case 'object':
    case 'flattened':
    case 'geo_point':
      return isPlainObject(v) ? undefined : bad('an object');
    case 'nested':
      return isPlainObject(v) ? undefined : bad('an object');
    default:
      return `${path}: unhandled ECS type ${type}`;
  }
}

function fieldProblems(path: string, f: EcsField, v: unknown): string[] {
  const problems: string[] = [];
  const wantsArray = f.normalize?.includes('array') ?? false;
  // Elasticsearch takes an array for any field (user.group.name of several groups); ECS only
  // says which fields must always be one.
  if (!Array.isArray(v) && wantsArray) problems.push(`${path}: one value, ECS expects an array`);
  const values = Array.isArray(v) ? v : [v];
  for (const x of values) {
    const p = typeProblem(path, f.type, x);
    if (p) problems.push(p);
    if (f.allowed_values && !f.allowed_values.some((a) => a.name === x))
      problems.push(`${path}: ${JSON.stringify(x)} is not an allowed value`);
  }
  return problems;
}

/** Every event.type must be one that at least one of the record's event.category values expects. */
function categoryTypeProblems(flat: Map<string, unknown>): string[] {
  const cats = [flat.get('event.category') ?? []].flat() as string[];
  const types = [flat.get('event.type') ?? []].flat() as string[];
  const allowed = FIELDS['event.category']!.allowed_values!;
  const problems: string[] = [];
  for (const t of types) {
    const expecting = cats.filter((c) => allowed.find((a) => a.name === c)?.expected_event_types?.includes(t));
    if (cats.length && expecting.length === 0) problems.push(`event.type: ${t} is not expected by event.category ${cats.join(',')}`);
  }
  if (cats.length && types.length === 0) problems.push('event.type: missing (event.category needs an event.type)');
  return problems;
}

export function validateEcs(record: Record<string, unknown>): string[] {
  const flat = leaves(record);
  const problems: string[] = [];
  for (const [path, v] of flat) {
    if (path.startsWith(CUSTOM)) continue;
    const f = FIELDS[path];
    if (!f) {
      problems.push(`${path}: not an ECS ${ECS_TABLE_VERSION} field`);
      continue;
    }
    problems.push(...fieldProblems(path, f, v));
  }
  for (const [path, f] of Object.entries(FIELDS)) if (f.required && !flat.has(path)) problems.push(`${path}: required, missing`);
  if (flat.has('ecs.version') && flat.get('ecs.version') !== ECS_TABLE_VERSION)
    problems.push(`ecs.version: ${String(flat.get('ecs.version'))} declared, validated against ${ECS_TABLE_VERSION}`);
  problems.push(...categoryTypeProblems(flat));
  // Meaning, not only shape: a successful authentication names who signed in.
  const cats = [flat.get('event.category') ?? []].flat();
  if (cats.includes('authentication') && flat.get('event.outcome') === 'success' && !flat.has('user.name') && !flat.has('user.id')) {
    problems.push('authentication success without user.name/user.id (a logon of nobody)');
  }
  return problems;
}
