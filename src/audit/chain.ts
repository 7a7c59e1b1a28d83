// Tamper evidence: every record carries `prev_hash` (the previous record's hash) and `hash` =
// SHA-256 over the previous hash and the record's own canonical JSON. A deleted, inserted or edited
// line breaks the chain; `gatehouse audit-verify <file>` finds where. Canonical JSON = keys sorted
// at every level, undefined dropped, no whitespace: the same bytes whoever re-serialises it.
import { createHash, hash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function chainHash(prevHash: string, canonicalRecord: string): string {
  // One-shot hash: no Hash object per record (this runs once per request).
  return hash('sha256', `${prevHash}\n${canonicalRecord}`, 'hex');
}

/** `record` with prev_hash inserted in key order (the builders keep every level sorted). */
function withPrevHash(record: Record<string, unknown>, prevHash: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const k of Object.keys(record)) {
    if (!placed && k > 'prev_hash') {
      out.prev_hash = prevHash;
      placed = true;
    }
    if (k !== 'prev_hash') out[k] = record[k];
  }
  if (!placed) out.prev_hash = prevHash;
  return out;
}

/**
 * Serialise `record` into the chain: adds prev_hash and hash; returns the line and its hash.
 * Records from record.ts are built in sorted key order, so the native JSON.stringify yields the
 * canonical form (hot path: one per request); anything else goes through canonicalJson.
 */
export function chainLine(record: Record<string, unknown>, prevHash: string, sorted = false): { line: string; hash: string } {
  // Records from record.ts already carry prev_hash in place (toRecord's last argument).
  const full = sorted && record.prev_hash === prevHash ? record : withPrevHash(record, prevHash);
  const body = sorted ? JSON.stringify(full) : canonicalJson(full);
  const h = chainHash(prevHash, body);
  return { line: `${body.slice(0, -1)},"hash":"${h}"}`, hash: h };
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly records: number;
  /** Chains seen: a new one starts at every process start (sequence 1 with empty prev_hash). */
  readonly chains: number;
  readonly problems: readonly string[];
}

/** Check a file's lines: each hash matches its content, and each links to the line before. */
export function verifyLines(lines: Iterable<string>): VerifyResult {
  const problems: string[] = [];
  let prev: string | undefined;
  let records = 0;
  let chains = 0;
  let n = 0;
  // Delivery is at-least-once: a record re-sent after a failed batch may appear twice. An exact
  // repeat of a record already seen is skipped, not reported.
  const seen = new Map<string, string>();
  for (const raw of lines) {
    n++;
    if (raw.trim() === '') continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      problems.push(`line ${n}: not JSON`);
      prev = undefined;
      continue;
    }
    const { hash, ...rest } = rec;
    // An exact repeat (same bytes) is a re-delivery; same hash with other content is tampering.
    const fingerprint = createHash('sha256').update(raw.trim()).digest('hex');
    if (typeof hash === 'string' && seen.get(hash) === fingerprint) continue;
    if (typeof hash === 'string') seen.set(hash, fingerprint);
    records++;
    const prevHash = typeof rest.prev_hash === 'string' ? rest.prev_hash : undefined;
    if (typeof hash !== 'string' || prevHash === undefined) {
      problems.push(`line ${n}: no hash/prev_hash`);
      prev = undefined;
      continue;
    }
    if (chainHash(prevHash, canonicalJson(rest)) !== hash) problems.push(`line ${n}: content does not match its hash (edited)`);
    if (prevHash === '') chains++;
    else if (prev === undefined && records === 1) chains++; // file starts mid-chain (rotation)
    else if (prevHash !== prev) problems.push(`line ${n}: does not follow line before (a record was deleted, inserted or reordered)`);
    prev = hash;
  }
  return { ok: problems.length === 0, records, chains, problems };
}
