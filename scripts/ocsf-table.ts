// Generate test/fixtures/ocsf-<version>.json: the part of the OCSF schema Gatehouse's audit records
// use (the event classes below and every object reachable from them), compacted to what a validator
// needs — attribute types, arrays, requirement levels, enum values, the profile an attribute belongs
// to, and constraints. Tests validate records against this table (test/support/ocsf-validate.ts), so
// the table is made from the real ocsf/ocsf-schema files, never written by hand.
//
// Rerun (after changing OCSF_VERSION in src/audit/record.ts or the CLASSES below):
//   git clone https://github.com/ocsf/ocsf-schema /tmp/ocsf-schema      (or any checkout)
//   git -C /tmp/ocsf-schema archive 1.6.0 | (mkdir -p /tmp/ocsf-1.6.0 && tar -x -C /tmp/ocsf-1.6.0)
//   node scripts/ocsf-table.ts /tmp/ocsf-1.6.0
// The checkout must be the tagged release: its version.json must name the version written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The classes Gatehouse writes (category folder/class file). */
const CLASSES = [
  'iam/authentication',
  'iam/account_change',
  'iam/group_management',
  'network/http_activity',
  'application/api_activity',
  'application/application_lifecycle',
];

type Json = Record<string, any>;
type Attr = Json;

const root = process.argv[2];
if (!root || !existsSync(join(root, 'dictionary.json'))) {
  console.error('usage: node scripts/ocsf-table.ts <ocsf-schema checkout of a release tag>');
  process.exit(2);
}
const read = (p: string): Json => JSON.parse(readFileSync(join(root, p), 'utf8')) as Json;
const version = String(read('version.json').version);
const dictionary = read('dictionary.json');
const dictAttrs = dictionary.attributes as Json;
const categories = read('categories.json').attributes as Json;

/** Deep merge where `over` wins; enums merge key by key (a class adds activities to the base's). */
function merge(base: Json | undefined, over: Json | undefined): Json {
  const out: Json = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(over ?? {})) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? merge(out[k], v) : v;
  }
  return out;
}

/** A file's attributes with its `$include`s resolved: a profile's attributes carry its name. */
function ownAttributes(file: Json): Json {
  let attrs: Json = {};
  for (const inc of (file.attributes?.$include ?? []) as string[]) {
    const included = read(inc);
    const profile = included.meta === 'profile' ? String(included.name) : undefined;
    for (const [name, a] of Object.entries(ownAttributes(included))) {
      attrs[name] = merge(attrs[name], profile && (a as Attr).profile === undefined ? { ...(a as Attr), profile } : (a as Attr));
    }
  }
  for (const [name, a] of Object.entries(file.attributes ?? {}))
    if (name !== '$include') attrs = { ...attrs, [name]: merge(attrs[name], a as Attr) };
  return attrs;
}

/** A class or object with its `extends` chain applied (the parent first, the child overriding). */
function resolved(dir: 'events' | 'objects', name: string, path?: string): Json {
  const file = read(path ?? `${dir}/${name}.json`);
  const parentName = file.extends as string | undefined;
  let parent: Json = {};
  if (parentName) {
    const parentPath = dir === 'events' ? findEvent(parentName) : `objects/${parentName}.json`;
    parent = resolved(dir, parentName, parentPath);
  }
  return {
    ...file,
    attributes: merge(parent.attributes, ownAttributes(file)),
    constraints: file.constraints ?? parent.constraints,
    category: file.category ?? parent.category,
  };
}

function findEvent(name: string): string {
  for (const p of [`events/${name}.json`, ...Object.keys(categories).map((c) => `events/${c}/${name}.json`)])
    if (existsSync(join(root!, p))) return p;
  throw new Error(`no event file for ${name}`);
}

/** One attribute, compacted: t = type, a = array, r = requirement, e = enum values, p = profile. */
function compact(name: string, a: Attr): Json {
  const d = dictAttrs[name] as Attr | undefined;
  if (!d) throw new Error(`attribute ${name} is not in the dictionary`);
  const def = merge(d, a);
  const out: Json = { t: String(def.type) };
  if (def.is_array) out.a = true;
  out.r = def.requirement ?? 'optional';
  // Integer enums (status_id) as numbers, string enums (http_method) as strings.
  if (def.enum)
    out.e = Object.keys(def.enum)
      .map((k) => (/^-?\d+$/.test(k) ? Number(k) : k))
      .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  if (def.profile) out.p = def.profile;
  if (def['@deprecated']) out.d = true;
  return out;
}

const types: Json = {};
for (const [name, t] of Object.entries(dictionary.types.attributes as Json)) {
  types[name] = {
    base: (t as Attr).type ?? name,
    ...((t as Attr).regex ? { regex: (t as Attr).regex } : {}),
    ...((t as Attr).max_len ? { max_len: (t as Attr).max_len } : {}),
  };
}

const classes: Json = {};
const objects: Json = {};
const pending: string[] = [];
function attrsOf(def: Json): Json {
  const out: Json = {};
  for (const name of Object.keys(def.attributes).sort()) {
    const c = compact(name, def.attributes[name]);
    out[name] = c;
    if (!(c.t in types) && c.t !== 'object' && !(c.t in objects)) pending.push(c.t);
  }
  return out;
}

for (const path of CLASSES) {
  const def = resolved('events', path.split('/')[1]!, `events/${path}.json`);
  const categoryUid = Number(categories[def.category].uid);
  const uid = categoryUid * 1000 + Number(def.uid);
  const attributes = attrsOf(def);
  // The base event's enums hold only 0; a class's own uid and category are its only valid values.
  attributes.class_uid.e = [uid];
  attributes.category_uid.e = [categoryUid];
  classes[uid] = {
    name: def.name,
    caption: def.caption,
    category_uid: categoryUid,
    profiles: def.profiles ?? [],
    constraints: def.constraints ?? {},
    attributes,
  };
}
for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
  if (name in objects) continue;
  const def = resolved('objects', name);
  objects[name] = {}; // claimed before its attributes are walked: an object that contains itself is not queued again
  objects[name] = { constraints: def.constraints ?? {}, attributes: attrsOf(def) };
}

const sortedObjects = Object.fromEntries(
  Object.keys(objects)
    .sort()
    .map((k) => [k, objects[k]]),
);
const out = resolve(import.meta.dirname, `../test/fixtures/ocsf-${version}.json`);
writeFileSync(out, `${JSON.stringify({ version, generated_by: 'scripts/ocsf-table.ts', types, classes, objects: sortedObjects })}\n`);
console.log(`wrote ${out}: ${Object.keys(classes).length} classes, ${Object.keys(objects).length} objects`);
