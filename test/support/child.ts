// `node src/main.ts …` as a real child process, for tests that must run the CLI as users do. On a
// loaded 2-core CI machine a child can take many seconds to start (issue 13, item 9), so nothing
// here polls on a short clock: a wait resolves on the output line it waits for, fails at once
// when the child exits first, and gives up only after a generous bound. Every failure — a wait, or
// any other assertion in a test that spawned a child — shows the child's stdout and stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { onTestFailed, onTestFinished } from 'vitest';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

/** How long a wait on a child's output may take before it fails (a slow machine, not a hang). */
export const CHILD_WAIT_MS = 60_000;
/** Test timeout for a test that starts a child and waits on it a few times. */
export const CHILD_TEST_TIMEOUT_MS = 240_000;
/** Output kept per child: the tail, so a chatty child cannot grow memory without bound. */
const KEEP_CHARS = 500_000;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface GatehouseProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /**
   * Resolves with the output once `until` holds for it. Rejects, with the output in the message,
   * when the child exits first or `timeoutMs` passes.
   */
  waitFor(until: RegExp | ((output: string) => boolean), what: string, timeoutMs?: number): Promise<string>;
  /** Resolves when the child has exited (at once if it already has); bounded like waitFor. */
  exited(timeoutMs?: number): Promise<Exit>;
  /** Send `signal` and wait for the exit. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

/** `node [nodeArgs] src/main.ts args…`, killed when the test finishes; its output shown if it fails. */
export function spawnGatehouse(
  args: readonly string[],
  opts: { env?: Record<string, string>; nodeArgs?: readonly string[] } = {},
): GatehouseProcess {
  const proc = spawn(NODE, [...(opts.nodeArgs ?? []), MAIN, ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exit: Exit | undefined;
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of [...listeners]) l();
  };
  const onData = (d: Buffer) => {
    out = (out + String(d)).slice(-KEEP_CHARS);
    changed();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  // 'close' comes after the pipes are drained, so the output of an exited child is complete.
  proc.on('close', (code, signal) => {
    exit = { code, signal };
    changed();
  });
  proc.on('error', (err) => {
    out += `\n[spawn error: ${err.message}]\n`;
    exit = { code: null, signal: null };
    changed();
  });
  onTestFailed(() => {
    console.error(`--- output of gatehouse ${args.join(' ')} (pid ${proc.pid}) ---\n${out}\n--- end of output ---`);
  });
  onTestFinished(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });

  /** Settle on the first of: `done()` gives a value, the child exits, or the bound passes. */
  const wait = <T>(what: string, done: () => T | undefined, timeoutMs: number, onExit?: (e: Exit) => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      const check = () => {
        const value = done();
        if (value !== undefined) return finish(() => resolve(value));
        if (exit !== undefined) {
          const e = exit;
          if (onExit) return finish(() => resolve(onExit(e)));
          finish(() => reject(new Error(`gatehouse exited (code ${e.code}, signal ${e.signal}) before ${what}; its output:\n${out}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${what}: not seen within ${timeoutMs} ms; gatehouse output so far:\n${out}`))),
        timeoutMs,
      );
      listeners.add(check);
      check();
    });

  const exited = (timeoutMs = CHILD_WAIT_MS) =>
    wait(
      'exiting',
      () => exit,
      timeoutMs,
      (e) => e,
    );
  return {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    waitFor(until, what, timeoutMs = CHILD_WAIT_MS) {
      const holds = typeof until === 'function' ? until : (o: string) => until.test(o);
      return wait(what, () => (holds(out) ? out : undefined), timeoutMs);
    },
    exited,
    stop(signal, timeoutMs) {
      if (exit === undefined) proc.kill(signal);
      return exited(timeoutMs);
    },
  };
}

/** How many times `pattern` (a global regexp) occurs in `text`. */
export function count(text: string, pattern: RegExp): number {
  return (text.match(pattern) ?? []).length;
}

/** The public URL a started child logged in its "gatehouse listening" line. */
export function listeningUrl(output: string): string {
  const m = /"msg":"gatehouse listening"/.test(output) ? /"url":"([^"]+)"/.exec(output) : null;
  if (!m?.[1]) throw new Error(`no "gatehouse listening" line with a url in:\n${output}`);
  return m[1];
}
