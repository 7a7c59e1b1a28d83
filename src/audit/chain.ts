// Tamper evidence: every record carries the previous record's hash and its own hash = SHA-256 over
// the previous hash and the record's canonical JSON (with its own hash field empty). A deleted,
// inserted or edited line breaks the chain; `gatehouse audit-verify <file>` finds where. Canonical
// JSON = keys sorted at every level, undefined dropped, no whitespace: the same bytes whoever
// re-serialises it.
//
// Keyed (audit.chain_key_file): the hash is HMAC-SHA256 with a secret key instead, and the record
// says so (chain.alg = "hmac-sha256"). Whoever can write the file but not read the key cannot
// recompute the hashes of a rewritten record; `audit-verify --key-file` checks every record with
// the key and refuses unkeyed ones. Each process start links to the previous run's head (its
// first record's prev_hash, writer.ts keeps the head in the spool directory), and a clean shutdown
// ends a run with an `audit_stopped` record: a deleted run breaks the next run's link, and a cut
// tail leaves the last run without its final record.
//
// Where the links live depends on the record's schema (issue 14 and DESIGN.md: not top-level
// fields neither ECS nor OCSF knows; chain fields under gatehouse.chain / unmapped.chain):
//   ECS  (has `ecs`):        gatehouse.chain.hash (and its copy in ECS's event.hash), gatehouse.chain.prev_hash
//   OCSF (has `class_uid`):  unmapped.chain.hash, unmapped.chain.prev_hash
//   other records (and files written before): top-level hash, prev_hash
import { createHmac, hash } from 'node:crypto';

/** What chain.alg says of a keyed record. */
export const KEYED_ALG = 'hmac-sha256';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function chainHash(prevHash: string, canonicalRecord: string, key?: Buffer): string {
  if (key) return createHmac('sha256', key).update(`${prevHash}\n${canonicalRecord}`).digest('hex');
  // One-shot hash: no Hash object per record (this runs once per request).
  return hash('sha256', `${prevHash}\n${canonicalRecord}`, 'hex');
}

type Path = readonly string[];
interface Layout {
  /** Where the record's own hash is written: the first is the chain's, any other a copy. */
  readonly hash: readonly [Path, ...Path[]];
  readonly prev: Path;
  /** chain.alg, the writer's sequence and the action (run starts and final records). */
  readonly alg?: Path;
  readonly sequence?: Path;
  readonly action?: Path;
}
const TOP: Layout = { hash: [['hash']], prev: ['prev_hash'] };
const ECS: Layout = {
  hash: [
    ['gatehouse', 'chain', 'hash'],
    ['event', 'hash'],
  ],
  prev: ['gatehouse', 'chain', 'prev_hash'],
  alg: ['gatehouse', 'chain', 'alg'],
  sequence: ['event', 'sequence'],
  action: ['event', 'action'],
};
const OCSF: Layout = {
  hash: [['unmapped', 'chain', 'hash']],
  prev: ['unmapped', 'chain', 'prev_hash'],
  alg: ['unmapped', 'chain', 'alg'],
  sequence: ['metadata', 'sequence'],
  action: ['unmapped', 'action'],
};

/** The action of the record that ends a run cleanly (writer.ts writes it on close). */
export const FINAL_ACTION = 'audit_stopped';

/** `record` with every hash location emptied and the previous hash set: what is hashed. */
function unhashed(record: Record<string, unknown>, layout: Layout, prevHash: string): Record<string, unknown> {
  let out = setAt(record, layout.prev, prevHash);
  for (const p of layout.hash) out = setAt(out, p, '');
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function layoutOf(record: Record<string, unknown>): Layout {
  if (isObject(record.ecs) && isObject(record.event)) return ECS;
  if (typeof record.class_uid === 'number') return OCSF;
  return TOP;
}

function getAt(record: Record<string, unknown>, path: Path): unknown {
  let v: unknown = record;
  for (const k of path) v = isObject(v) ? v[k] : undefined;
  return v;
}

/** A copy of `record` with `value` at `path` (the objects along the path copied, the rest shared). */
function setAt(record: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const [k, ...rest] = path as [string, ...string[]];
  return { ...record, [k]: rest.length ? setAt(isObject(record[k]) ? record[k] : {}, rest, value) : value };
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

/** The JSON text of an empty hash field, and how the line spells a filled one. */
const EMPTY_HASH = '"hash":""';
const filledHash = (h: string) => `"hash":"${h}"`;

/**
 * Serialise `record` into the chain: sets the previous hash and its own hash; returns the line and
 * its hash. Records from record.ts are built in sorted key order with the links in place (toRecord's
 * last argument; an empty hash field), so the native JSON.stringify yields the canonical form (hot
 * path: one per request); anything else goes through canonicalJson.
 */
export function chainLine(record: Record<string, unknown>, prevHash: string, sorted = false, key?: Buffer): { line: string; hash: string } {
  const layout = layoutOf(record);
  if (layout === TOP) {
    const full = sorted && record.prev_hash === prevHash ? record : withPrevHash(record, prevHash);
    const body = sorted ? JSON.stringify(full) : canonicalJson(full);
    const h = chainHash(prevHash, body, key);
    return { line: `${body.slice(0, -1)},"hash":"${h}"}`, hash: h };
  }
  const inPlace = sorted && getAt(record, layout.prev) === prevHash && layout.hash.every((p) => getAt(record, p) === '');
  const body = inPlace ? JSON.stringify(record) : canonicalJson(unhashed(record, layout, prevHash));
  const h = chainHash(prevHash, body, key);
  // A JSON string cannot hold an unescaped `"hash":""`, and records keep no other key named hash:
  // each one is a hash location.
  return { line: fillHashes(body, filledHash(h)), hash: h };
}

/**
 * `body.replaceAll(EMPTY_HASH, filled)`, by slices: a record has one or two hash locations, and
 * joining slices costs half of what replaceAll does on a 1.4 KB line (once per request).
 */
function fillHashes(body: string, filled: string): string {
  let at = body.indexOf(EMPTY_HASH);
  if (at === -1) return body;
  let line = '';
  let from = 0;
  while (at !== -1) {
    line += body.slice(from, at) + filled;
    from = at + EMPTY_HASH.length;
    at = body.indexOf(EMPTY_HASH, from);
  }
  return line + body.slice(from);
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly records: number;
  /** Chains seen: a new one starts at every process start (its first record, sequence 1). */
  readonly chains: number;
  /** The first problems found (ChainVerifier's maxProblems); problemCount has them all. */
  readonly problems: readonly string[];
  /** What is not proof of tampering but worth knowing (a run without its final record). */
  readonly warnings: readonly string[];
}

/** `,"hash":"<64 hex>"}`: how chainLine ends every top-level-layout line it writes. */
const HASH_SUFFIX = 9 + 64 + 2;

/** What the verifier remembers of the record before. */
interface Prev {
  readonly hash: string;
  /** It was a run's final record (a clean shutdown). */
  readonly final: boolean;
  /** Its schema has final records (ECS, OCSF; not the top-level layout of older files). */
  readonly hasFinal: boolean;
  readonly where: string;
}

/**
 * Checks a chain one line at a time in bounded memory (`audit-verify` streams files through it):
 * each record's hash matches its content, and each links to the record before. With `key`, every
 * hash must be the keyed one (HMAC): an unkeyed or re-hashed record fails.
 */
export class ChainVerifier {
  readonly #problems: string[] = [];
  readonly #warnings: string[] = [];
  readonly #maxProblems: number;
  readonly #window: number;
  readonly #key: Buffer | undefined;
  /** Hashes of the last `#window` intact records: a repeat of one of them is a re-delivery. */
  readonly #recent = new Set<string>();
  /** The same hashes in arrival order (a ring), so the oldest leaves in O(1). */
  readonly #ring: string[] = [];
  #ringAt = 0;
  #problemCount = 0;
  #prev: Prev | undefined;
  #records = 0;
  #chains = 0;
  #line = 0;
  #keyedUnchecked = 0;

  /**
   * `redeliveryWindow`: how far back an exact repeat counts as a re-delivery rather than a
   * reordering (at-least-once delivery repeats recent records: a failed batch, a syslog replay
   * window of up to 10,000 records). `maxProblems`: problems kept for the report. `key`: the
   * chain key (audit.chain_key_file) the records were written with.
   */
  constructor(o: { redeliveryWindow?: number; maxProblems?: number; key?: Buffer | undefined } = {}) {
    this.#window = o.redeliveryWindow ?? 100_000;
    this.#maxProblems = o.maxProblems ?? 1000;
    this.#key = o.key;
  }

  get problemCount(): number {
    return this.#problemCount;
  }

  /** One line of the file; `where` names it in problems (default "line N", counting pushes). */
  push(raw: string, where?: string): void {
    this.#line++;
    if (raw.trim() === '') return;
    const at = where ?? `line ${this.#line}`;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      this.#problem(`${at}: not JSON`);
      this.#prev = undefined;
      return;
    }
    const layout = layoutOf(rec);
    const hash = getAt(rec, layout.hash[0]);
    const prevValue = getAt(rec, layout.prev);
    const prevHash = typeof prevValue === 'string' ? prevValue : undefined;
    if (typeof hash !== 'string' || prevHash === undefined) {
      this.#records++;
      this.#problem(`${at}: no hash/prev_hash`);
      this.#prev = undefined;
      return;
    }
    const intact = this.#intact(raw, rec, layout, prevHash, hash, at);
    // An exact repeat of a recent intact record is a re-delivery: skipped, not counted. A line
    // that reuses a seen hash with other content is not intact, so it cannot hide here.
    if (intact && this.#recent.has(hash)) return;
    this.#records++;
    if (intact) this.#remember(hash);
    this.#link(rec, layout, prevHash, at);
    this.#prev = {
      hash,
      final: layout.action !== undefined && getAt(rec, layout.action) === FINAL_ACTION,
      hasFinal: layout.action !== undefined,
      where: at,
    };
  }

  result(): VerifyResult {
    const warnings = [...this.#warnings];
    if (this.#prev?.hasFinal && !this.#prev.final) {
      warnings.push(
        `the last run has no final record (after ${this.#prev.where}): that process is still running or was killed, or the end of the file was cut`,
      );
    }
    if (this.#keyedUnchecked > 0)
      warnings.push(`${this.#keyedUnchecked} keyed record(s) not checked: pass --key-file with the audit.chain_key_file key`);
    return { ok: this.#problemCount === 0, records: this.#records, chains: this.#chains, problems: [...this.#problems], warnings };
  }

  /** Does the record follow the one before? A run's first record links to the previous run's head. */
  #link(rec: Record<string, unknown>, layout: Layout, prevHash: string, at: string): void {
    const prev = this.#prev;
    const runStart = prevHash === '' || (layout.sequence !== undefined && getAt(rec, layout.sequence) === 1);
    if (runStart) this.#chains++;
    if (prevHash === '' || prevHash === prev?.hash) return;
    if (prev === undefined && this.#records === 1) {
      // The first record read: the file starts mid-chain (rotation) or after the previous run.
      if (!runStart) this.#chains++;
      return;
    }
    if (prev && runStart && !prev.final && this.#recent.has(prevHash)) {
      // The previous run was killed: its head was last saved a moment before its last records.
      this.#warnings.push(
        `${at}: a new run after one that ended without a final record (killed?); it links to a record before ${prev.where}`,
      );
      return;
    }
    if (runStart)
      this.#problem(`${at}: a new run that does not link to the end of the run before (a run or the records between were deleted)`);
    else this.#problem(`${at}: does not follow line before (a record was deleted, inserted or reordered)`);
  }

  /**
   * Does the record match its hash? Keyed verification demands the keyed hash of every record;
   * without a key, a keyed record cannot be checked (a warning, and its links still are).
   */
  #intact(raw: string, rec: Record<string, unknown>, layout: Layout, prevHash: string, hash: string, at: string): boolean {
    const keyed = layout.alg !== undefined && getAt(rec, layout.alg) === KEYED_ALG;
    if (this.#key) {
      if (intactLine(raw, rec, layout, prevHash, hash, this.#key)) return true;
      this.#problem(
        keyed
          ? `${at}: content does not match its keyed hash (edited)`
          : `${at}: not keyed with the chain key (written without it, or rewritten and re-hashed)`,
      );
      return false;
    }
    if (keyed) {
      this.#keyedUnchecked++;
      return true;
    }
    if (intactLine(raw, rec, layout, prevHash, hash)) return true;
    this.#problem(`${at}: content does not match its hash (edited)`);
    return false;
  }

  #remember(hash: string): void {
    if (this.#window === 0 || this.#recent.has(hash)) return;
    if (this.#ring.length < this.#window) {
      this.#ring.push(hash);
    } else {
      this.#recent.delete(this.#ring[this.#ringAt]!);
      this.#ring[this.#ringAt] = hash;
      this.#ringAt = (this.#ringAt + 1) % this.#window;
    }
    this.#recent.add(hash);
  }

  #problem(p: string): void {
    this.#problemCount++;
    if (this.#problems.length < this.#maxProblems) this.#problems.push(p);
  }
}

/**
 * Does the record match its hash? Lines as chainLine wrote them are checked on their own bytes
 * (the canonical JSON is the line with the hash emptied or cut off: no re-serialising); anything
 * else, e.g. a record a SIEM re-serialised, through canonicalJson.
 */
function intactLine(raw: string, rec: Record<string, unknown>, layout: Layout, prevHash: string, hash: string, key?: Buffer): boolean {
  if (layout === TOP) {
    if (hash.length === 64 && raw.length > HASH_SUFFIX && raw.endsWith(`,"hash":"${hash}"}`)) {
      if (chainHash(prevHash, `${raw.slice(0, -HASH_SUFFIX)}}`, key) === hash) return true;
    }
    const { hash: _own, ...rest } = rec;
    return chainHash(prevHash, canonicalJson(rest), key) === hash;
  }
  // A copy of the hash (ECS event.hash) that says something else was edited.
  if (layout.hash.some((p) => getAt(rec, p) !== hash)) return false;
  if (hash.length === 64 && chainHash(prevHash, raw.replaceAll(filledHash(hash), EMPTY_HASH), key) === hash) return true;
  return chainHash(prevHash, canonicalJson(unhashed(rec, layout, prevHash)), key) === hash;
}

/** Check lines held in memory (tests, small inputs); files go through ChainVerifier line by line. */
export function verifyLines(lines: Iterable<string>, key?: Buffer): VerifyResult {
  const v = new ChainVerifier({ key });
  for (const raw of lines) v.push(raw);
  return v.result();
}
