// The V8 flags `gatehouse start` sets for its own process (issue 18: measured, not guessed;
// docs/performance.md "Scavenges on the event loop").
//
// --no-parallel-scavenge: a young-generation collection runs on the main thread alone instead of
// sharing the work with V8's helper threads and waiting for them. A proxy's cores are busy with
// event loops (its own, `server.workers`, the upstream's, the load's), so the helpers start late
// and the pause stretches: side by side at 50 connections on 2 CPUs, without parallel scavenges
// Gatehouse served more requests in 5 of 6 rounds (median +6 %), had a lower p99 in 6 of 6
// (median 39.6 against 63.8 ms) and used 16 µs less CPU per request. Old-generation marking stays
// concurrent.
import { setFlagsFromString } from 'node:v8';

export const GATEHOUSE_V8_FLAGS: readonly string[] = ['--no-parallel-scavenge'];

/** `--no-parallel-scavenge` → `parallel-scavenge`; V8 reads `_` and `-` alike. */
const flagName = (arg: string) =>
  arg
    .replace(/^--(no-)?/, '')
    .split('=')[0]!
    .replace(/_/g, '-');

/**
 * Sets each of GATEHOUSE_V8_FLAGS the operator did not set themselves on the command line
 * (`node --parallel-scavenge …/launcher.mjs start` keeps V8's default; V8 does not take these in
 * NODE_OPTIONS). Returns the flags set. Safe at run time: V8 reads these at every collection.
 */
export function applyV8Flags(execArgv: readonly string[] = process.execArgv): string[] {
  const own = new Set(execArgv.filter((a) => a.startsWith('--')).map(flagName));
  const set: string[] = [];
  for (const flag of GATEHOUSE_V8_FLAGS) {
    if (own.has(flagName(flag))) continue;
    setFlagsFromString(flag);
    set.push(flag);
  }
  return set;
}
