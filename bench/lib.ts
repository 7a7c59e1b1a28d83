// Shared benchmark plumbing: child processes on loopback, free ports, and one bounded load run
// with wrk (when installed) or autocannon (always, from devDependencies).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const NODE = process.execPath;

export interface LoadResult {
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly errors: number;
  readonly tool: string;
  /** Requests completed in the run (wrk's count; autocannon's total). */
  readonly requests: number;
}

/** Extra load options. */
export interface LoadOptions {
  /**
   * A file of Cookie header values, one a line: each request takes the next (round-robin over
   * the list, so 10,000 lines are 10,000 distinct sessions). Needs wrk (bench/lib/cookies.lua).
   */
  readonly cookieFile?: string;
}

const COOKIES_LUA = new URL('./lib/cookies.lua', import.meta.url).pathname;

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export { freePort, waitForPort } from '../test/support/ports.ts';

const children = new Set<ChildProcess>();
/**
 * Start a child. `group`: in a process group of its own, so pause() and resume() reach the
 * processes it starts too (nginx and Apache workers, Gatehouse's worker processes).
 */
export function start(cmd: string, args: string[], env: Record<string, string> = {}, o: { group?: boolean } = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env }, detached: o.group === true });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
export function stopAll(): void {
  for (const c of children) {
    // A paused group would keep the signal pending.
    signalGroup(c, 'SIGCONT');
    c.kill('SIGTERM');
  }
}

/** SIGSTOP / SIGCONT to a child started with `group`: an idle system under test then costs no CPU at all (its timers, heartbeats). */
export function pause(child: ChildProcess): void {
  signalGroup(child, 'SIGSTOP');
}
export function resume(child: ChildProcess): void {
  signalGroup(child, 'SIGCONT');
}
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Not a group leader (started without `group`), or already gone.
  }
}
process.on('exit', stopAll);
process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});

/** Run a bench's main: every child stopped at the end, the error printed and exit code 1 on failure. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => {
      stopAll();
      setTimeout(() => process.exit(0), 500);
    },
    (err: unknown) => {
      console.error(err);
      stopAll();
      process.exit(1);
    },
  );
}

/** One bounded run: `connections` keep-alive connections for `seconds`. */
export function load(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string> = {},
  options: LoadOptions = {},
): LoadResult {
  if (options.cookieFile !== undefined && !has('wrk'))
    throw new Error('a cookie list (round-robin sessions) needs wrk (apt-get install wrk)');
  if (has('wrk')) {
    const { args, env } = wrkCommand(url, connections, seconds, headers, options);
    const r = spawnSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000, env });
    return wrkResult(r.stdout, r.status, r.stderr);
  }
  const bin = new URL('../node_modules/autocannon/autocannon.js', import.meta.url).pathname;
  const hdr = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const r = spawnSync(NODE, [bin, '-c', String(connections), '-d', String(seconds), '-j', ...hdr, url], {
    encoding: 'utf8',
    timeout: (seconds + 30) * 1000,
  });
  const j = JSON.parse(r.stdout) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    rps: j.requests.average,
    p50ms: j.latency.p50,
    p99ms: j.latency.p99,
    errors: j.non2xx + j.errors,
    tool: 'autocannon',
    requests: j.requests.total,
  };
}

/** One wrk run in the background: several can load several systems at the same moment (bench/side-by-side.ts). */
export function loadAsync(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string> = {},
  options: LoadOptions = {},
): Promise<LoadResult> {
  if (!has('wrk')) return Promise.reject(new Error('concurrent load needs wrk (apt-get install wrk)'));
  const { args, env } = wrkCommand(url, connections, seconds, headers, options);
  return new Promise((resolve, reject) => {
    const w = spawn('wrk', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => w.kill('SIGKILL'), (seconds + 30) * 1000);
    w.stdout.on('data', (d: Buffer) => (out += String(d)));
    w.stderr.on('data', (d: Buffer) => (err += String(d)));
    w.on('exit', (code) => {
      clearTimeout(t);
      try {
        resolve(wrkResult(out, code, err));
      } catch (e) {
        reject(e);
      }
    });
  });
}

function wrkCommand(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string>,
  options: LoadOptions,
): { args: string[]; env: NodeJS.ProcessEnv } {
  const hdr = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const script = options.cookieFile === undefined ? [] : ['-s', COOKIES_LUA];
  return {
    args: ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', ...script, ...hdr, url],
    env: options.cookieFile === undefined ? process.env : { ...process.env, BENCH_COOKIE_FILE: options.cookieFile },
  };
}

function wrkResult(out: string, status: number | null, stderr: string): LoadResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const pct = (p: string) => toMs(new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out));
  const errs = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = Number(errs?.[1] ?? 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  if (rps === 0) throw new Error(`wrk gave no figures (exit ${status}): ${stderr || out}`);
  return { rps, p50ms: pct('50'), p99ms: pct('99'), errors, tool: 'wrk', requests };
}

function toMs(m: RegExpExecArray | null): number {
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

export function fmt(r: LoadResult): string {
  return `${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50ms.toFixed(2).padStart(6)} ms   p99 ${r.p99ms.toFixed(2).padStart(6)} ms${r.errors ? `   errors ${r.errors}` : ''}`;
}
