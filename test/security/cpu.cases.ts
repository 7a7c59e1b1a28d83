// Adversarial inputs for the request hot path (issue 11, breach 7: one crafted 15 KB path cost
// 0.4-1.3 s of the event loop), and the benchmark-style measure cpu.test.ts applies to them.
//
// Each case pairs an adversarial input with a benign input of the same length that takes the same
// code path (escapes, dots and segments in ordinary amounts), so the comparison is between "the
// same work, attacked" and "the same work, normal". The measure is CPU time (process.cpuUsage, not
// wall time) per call, the best of several rounds, so a busy machine slows both sides alike and
// cannot make the check flaky. A linear implementation stays within a small factor of the benign
// cost; a backtracking or quadratic one is 100-1000× slower at 8 KB.

/** The limits every case must meet. */
export const BOUNDS = {
  /** Adversarial CPU per call / benign CPU per call. */
  maxRatio: 20,
  /** Adversarial CPU per call, ms (the old quadratic code took 400-1300 ms for 15 KB). */
  maxMsPerCall: 20,
  /** Adversarial CPU per call at full length / at a quarter of it (linear: about 4; quadratic: 16). */
  maxGrowth: 12,
} as const;

/** Longest request target Gatehouse accepts by default (server.max_target_bytes). */
export const MAX_TARGET = 8192;

/**
 * Exactly `len` characters: `prefix`, whole copies of `unit` (never cut inside an escape), "x"
 * padding, `suffix`.
 */
export function fillTo(len: number, prefix: string, unit: string, suffix = ''): string {
  const body = len - prefix.length - suffix.length;
  const copies = Math.floor(body / unit.length);
  return prefix + unit.repeat(copies) + 'x'.repeat(body - copies * unit.length) + suffix;
}

/**
 * A benign path of length `len` that does the same kind of work as the attacks: it is decoded
 * (escapes), has dots and many segments, and runs the glob rule of cpu.test.ts with several globstars to its end.
 */
export const benignPath = (len: number) => fillTo(len, '/a/', 'report%20v1.2/', 'b/y/c/z/d');

export interface PathCase {
  readonly id: string;
  readonly make: (len: number) => string;
  readonly why: string;
  readonly source: string;
}

const I11 = 'issue 11 outside run (breach 7)';
const OT18 = 'Orange Tsai, Breaking Parser Logic (Black Hat USA 2018)';
const OWASP = 'OWASP: Regular expression Denial of Service (ReDoS)';

/** Adversarial request paths (each becomes a row for every path-handling function). */
export const PATH_CASES: readonly PathCase[] = [
  {
    id: 'dot-run',
    make: (n) => fillTo(n, '/a', '.', 'x./'),
    why: 'one long run of dots not followed by "/" (the old /\\.+(?=\\/|$)/g backtracks at every dot)',
    source: I11,
  },
  { id: 'dot-run-end', make: (n) => fillTo(n, '/a', '.'), why: 'a long run of trailing dots', source: I11 },
  { id: 'dots-segments', make: (n) => fillTo(n, '', '/...'), why: 'thousands of dots-only segments', source: OT18 },
  { id: 'dot-space-run', make: (n) => fillTo(n, '/a', '.%20', 'x/'), why: 'alternating dots and encoded spaces', source: I11 },
  { id: 'space-run', make: (n) => fillTo(n, '/a', '%20', 'b'), why: 'a long run of encoded spaces', source: I11 },
  { id: 'semicolon-run', make: (n) => fillTo(n, '/a', ';', 'x/'), why: 'one segment full of ";"', source: OT18 },
  { id: 'semicolon-segments', make: (n) => fillTo(n, '', '/;x'), why: 'thousands of ";param"-only segments', source: OT18 },
  { id: 'pct25-run', make: (n) => fillTo(n, '/', '%25'), why: 'thousands of encoded "%"', source: OT18 },
  {
    id: 'pct2e-run',
    make: (n) => fillTo(n, '/', '%2e'),
    why: 'one segment of encoded dots',
    source: 'CVE-2021-41773 (Apache httpd .%2e traversal)',
  },
  { id: 'dotdot-climb', make: (n) => fillTo(n, '', '/a/..'), why: 'thousands of dot-dot segments', source: OT18 },
  { id: 'slash-run', make: (n) => fillTo(n, '/a', '/', 'b'), why: 'a long run of slashes', source: OT18 },
  {
    id: 'fullwidth-run',
    make: (n) => fillTo(n, '/', '%EF%BD%81'),
    why: 'thousands of fullwidth letters (NFKC)',
    source: 'WorstFit, Orange Tsai and Splitline (2025): Windows best-fit',
  },
  { id: 'glob-prefix-run', make: (n) => fillTo(n, '/a/', 'b/'), why: 'a long run matching a glob prefix again and again', source: OWASP },
  { id: 'many-segments', make: (n) => fillTo(n, '', '/a'), why: 'four thousand one-letter segments', source: I11 },
];

/** Glob patterns (rules and api_paths) with several "*" / "**", against long matching runs. */
export interface GlobCase {
  readonly id: string;
  readonly pattern: string;
  readonly adversarial: (len: number) => string;
  readonly benign: (len: number) => string;
  readonly source: string;
}

export const GLOB_CASES: readonly GlobCase[] = [
  {
    id: 'globstars-abcd',
    pattern: '/a/**/b/**/c/**/d',
    adversarial: (n) => fillTo(n, '/a/', 'b/'),
    benign: (n) => fillTo(n, '/a/', 'x/', '/b/y/c/z/d'),
    source: OWASP,
  },
  {
    id: 'globstars-stars',
    pattern: '/**/*/**/*/**/x',
    adversarial: (n) => fillTo(n, '', '/y'),
    benign: (n) => fillTo(n, '', '/y', '/x'),
    source: OWASP,
  },
  {
    id: 'many-globstars',
    pattern: '/**/**/**/**/**/**/**/**/z',
    adversarial: (n) => fillTo(n, '', '/a'),
    benign: (n) => fillTo(n, '', '/a', '/z'),
    source: OWASP,
  },
  {
    id: 'star-in-segment',
    pattern: '/api/2.0/*a*a*a*a*/delete',
    adversarial: (n) => fillTo(n, '/api/2.0/', 'a', '/delete!'),
    benign: (n) => fillTo(n, '/api/2.0/', 'ab', '/delete'),
    source: OWASP,
  },
  {
    id: 'star-long-segment',
    pattern: '/api/2.0/*/delete',
    adversarial: (n) => fillTo(n, '/api/2.0/', 'x'),
    benign: (n) => fillTo(n, '/api/2.0/', 'x', '/delete'),
    source: I11,
  },
];

/** Host header values (at most 255 characters are looked at). */
export const HOST_CASES: readonly { readonly id: string; readonly value: string; readonly source: string }[] = [
  { id: 'hyphen-labels', value: fillTo(255, '', `a${'-'.repeat(61)}a.`), source: OWASP },
  { id: 'almost-label', value: fillTo(255, '', `${'a'.repeat(62)}-.`), source: OWASP },
  { id: 'dots', value: '.'.repeat(255), source: I11 },
  { id: 'colons', value: `[${':'.repeat(253)}]`, source: I11 },
  { id: 'port-run', value: fillTo(255, 'a:', '9'), source: I11 },
];
export const BENIGN_HOST = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;

export interface CpuMeasure {
  readonly adversarialMs: number;
  readonly benignMs: number;
  readonly ratio: number;
  /** Adversarial CPU per call at full length / at a quarter of the length, when measured. */
  readonly growth?: number | undefined;
}

/** CPU time one measuring batch aims at. */
const BATCH_MS = 10;
/** Rounds; every round measures each input once, so all of them see the same machine load. */
const ROUNDS = 5;

/** A timer for `fn(input)`: CPU ms per call over a batch of `n` calls. */
function timer(fn: (input: string) => unknown, input: string): (n: number) => number {
  return (n) => {
    let sink = 0;
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) sink += fn(input) === undefined ? 0 : 1;
    const used = process.cpuUsage(start);
    if (sink < 0) throw new Error('unreachable');
    return (used.user + used.system) / 1000 / n;
  };
}

/**
 * CPU milliseconds per call of `fn` on each input, the best of several interleaved rounds (a
 * busy machine inflates some batches, never deflates them). Batches shrink to one call when a call
 * is slow, and measuring stops early once an input is clearly over the bound, so a quadratic
 * implementation is reported, not waited for.
 */
export function cpuMsPerCall(fn: (input: string) => unknown, inputs: readonly string[], maxCalls: number): number[] {
  const timers = inputs.map((input) => timer(fn, input));
  for (const t of timers) t(3); // warm up: JIT tiers and regex compilation settle before measuring
  const first = timers.map((t) => t(1));
  const sizes = first.map((ms) => Math.max(1, Math.min(maxCalls, Math.floor(BATCH_MS / Math.max(ms, 0.001)))));
  const best = [...first];
  for (let r = 0; r < ROUNDS && Math.max(...best) <= BOUNDS.maxMsPerCall * 4; r++) {
    timers.forEach((t, i) => {
      best[i] = Math.min(best[i]!, t(sizes[i]!));
    });
  }
  return best;
}

/**
 * Adversarial vs benign CPU per call (the benign side never counts below 1 µs, the timer's
 * resolution); with `quarter` (the same attack at a quarter of the length) also how the cost grows.
 */
export function compare(fn: (input: string) => unknown, adversarial: string, benign: string, calls: number, quarter?: string): CpuMeasure {
  const [b = 0, a = 0, q] = cpuMsPerCall(fn, quarter === undefined ? [benign, adversarial] : [benign, adversarial, quarter], calls);
  const benignMs = Math.max(b, 0.001);
  return { adversarialMs: a, benignMs, ratio: a / benignMs, growth: q === undefined ? undefined : a / Math.max(q, 0.001) };
}

/** Why `m` breaks the bounds, or undefined. */
export function boundsProblem(m: CpuMeasure): string | undefined {
  const shown = `adversarial ${m.adversarialMs.toFixed(3)} ms/call, benign ${m.benignMs.toFixed(3)} ms/call, ratio ${m.ratio.toFixed(1)}`;
  if (m.adversarialMs > BOUNDS.maxMsPerCall) return `${shown}: over ${BOUNDS.maxMsPerCall} ms per call`;
  if (m.ratio > BOUNDS.maxRatio) return `${shown}: over ${BOUNDS.maxRatio}× the benign cost`;
  // Only meaningful when a call costs enough to measure (10 µs at full length).
  if (m.growth !== undefined && m.adversarialMs > 0.01 && m.growth > BOUNDS.maxGrowth)
    return `${shown}: 4× the length costs ${m.growth.toFixed(1)}× as much (superlinear)`;
  return undefined;
}
