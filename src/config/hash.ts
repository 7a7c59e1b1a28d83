// Fingerprints of the compiled config, computed once at load: the config hash every audit record
// carries (which configuration was in force) and the stable id of each route rule (which rule
// decided, unchanged by reloads that move or add other rules). Canonical JSON: keys sorted, Sets
// and Maps as arrays, URLs by href, secrets by their redacted form (a secret's value never enters
// a hash that is written next to every record; rotating one does not change the hash).
import { createHash } from 'node:crypto';

/** `value` as canonical JSON (see above); undefined members and functions are left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object')
    return value === undefined || typeof value === 'function' ? 'null' : JSON.stringify(value);
  if (value instanceof Set) return canonicalJson([...value]);
  if (value instanceof Map) return canonicalJson(Object.fromEntries(value));
  if (value instanceof RegExp) return JSON.stringify(String(value));
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return canonicalJson(withJson.toJSON());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** SHA-256 (hex) of the canonical JSON of `value`. */
export function configHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * A rule's stable id: `<route>/<12 hex of its content's hash>`, the same for the same rule wherever
 * it sits in `rules`; a second identical rule in one route gets `~2` (and so on).
 */
export function ruleIds(route: string, rules: readonly unknown[]): string[] {
  const seen = new Map<string, number>();
  return rules.map((r) => {
    const base = `${route}/${configHash(r).slice(0, 12)}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}~${n}`;
  });
}
