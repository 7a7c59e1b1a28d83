// The one mutable cell behind `current()`: the runtime serving now, and reloads that replace it.
// Reloads run one at a time, in the order asked (a reload requested meanwhile runs after the one in
// flight, so it may read a newer file); a build that fails leaves the serving runtime in place. What
// a build contains, and what happens around a swap (logging, audit, closing the old runtime), is the
// caller's: this file only orders the swaps.
import type { Config } from './config/types.ts';
import { settingsFingerprint } from './config/secret.ts';

export type ReloadResult = { readonly ok: true; readonly warnings: readonly string[] } | { readonly ok: false; readonly error: string };

/** A successful build: the new runtime, and what the operator should hear about it. */
export interface Built<R> {
  readonly runtime: R;
  readonly warnings: readonly string[];
}

export interface HolderHooks<R> {
  /** After `next` replaced `previous`: requests that took `previous` still finish on it. */
  onSwap(previous: R, next: R, warnings: readonly string[]): void;
  /** The build threw; `message` is what the reload answer says. The serving runtime stays. */
  onFail(message: string, err: unknown): void;
}

export interface RuntimeHolder<R> {
  /** The runtime serving now: a request reads it once and uses that snapshot to the end. */
  current(): R;
  /** Build a successor from the serving runtime and swap it in, after any reload in flight. */
  reload(): Promise<ReloadResult>;
}

export function createRuntimeHolder<R>(initial: R, build: (current: R) => Promise<Built<R>>, hooks: HolderHooks<R>): RuntimeHolder<R> {
  let runtime = initial;
  let queue: Promise<unknown> = Promise.resolve();
  const once = async (): Promise<ReloadResult> => {
    let built: Built<R>;
    try {
      built = await build(runtime);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      hooks.onFail(error, err);
      return { ok: false, error };
    }
    const previous = runtime;
    runtime = built.runtime;
    hooks.onSwap(previous, runtime, built.warnings);
    return { ok: true, warnings: built.warnings };
  };
  return {
    current: () => runtime,
    reload() {
      const result = queue.then(once);
      queue = result.catch(() => {});
      return result;
    },
  };
}

/** Settings a running process cannot change: its sockets and its audit chain are already open. */
const RESTART_ONLY: ReadonlyArray<readonly [name: string, pick: (c: Config) => unknown]> = [
  ['listen', (c) => c.server.listen],
  ['tls', (c) => c.server.tls],
  ['admin.listen', (c) => c.admin.listen],
  ['audit', (c) => c.audit],
];

/**
 * Names of the settings that differ between the config the process started with and `next`, among
 * those that take effect only at the next restart (compared by value, secrets included).
 */
export function restartNeeded(started: Config, next: Config): string[] {
  return RESTART_ONLY.filter(([, pick]) => settingsFingerprint(pick(started)) !== settingsFingerprint(pick(next))).map(([name]) => name);
}
