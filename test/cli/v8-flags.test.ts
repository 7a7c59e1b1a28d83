// The V8 flags `gatehouse start` sets for itself (src/cli/v8-flags.ts): set unless the operator
// chose otherwise on the command line, and in effect — a process that set them collects its young
// generation on the main thread alone (V8's helper threads get next to no CPU; without the flag
// they took 100+ ticks in the same 1.5 s here).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { applyV8Flags, GATEHOUSE_V8_FLAGS } from '../../src/cli/v8-flags.ts';

const MODULE = new URL('../../src/cli/v8-flags.ts', import.meta.url).href;

/** Runs a child that applies the flags, then makes short-lived garbage for 1.5 s: what it set, and V8's helper threads' CPU ticks meanwhile. */
function child(nodeArgs: string[] = []): { set: string[]; helperTicks: number } {
  const script = `
    import { readdirSync, readFileSync } from 'node:fs';
    const { applyV8Flags } = await import(${JSON.stringify(MODULE)});
    const set = applyV8Flags();
    const helpers = () => readdirSync('/proc/self/task').map((t) => readFileSync('/proc/self/task/' + t + '/stat', 'utf8'))
      .filter((s) => s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')).startsWith('V8Worker'))
      .reduce((sum, s) => { const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return sum + Number(f[11]) + Number(f[12]); }, 0);
    const before = helpers();
    let keep = [];
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      for (let i = 0; i < 1000; i++) keep.push({ i, s: 'x'.repeat(24) + i });
      if (keep.length > 200000) keep = [];
    }
    console.log(JSON.stringify({ set, helperTicks: helpers() - before }));`;
  const out = execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { set: string[]; helperTicks: number };
}

describe('V8 flags', () => {
  it('sets --no-parallel-scavenge unless the command line says otherwise (either spelling)', () => {
    expect(GATEHOUSE_V8_FLAGS).toEqual(['--no-parallel-scavenge']);
    expect(applyV8Flags(['--parallel-scavenge'])).toEqual([]);
    expect(applyV8Flags(['--no-parallel_scavenge'])).toEqual([]);
    expect(applyV8Flags(['--max-old-space-size=512', '--enable-source-maps'])).toEqual(['--no-parallel-scavenge']);
  });

  it('in effect: 1.5 s of scavenges leave V8 helper threads idle; a --parallel-scavenge on the command line is kept', () => {
    const applied = child();
    expect(applied.set).toEqual(['--no-parallel-scavenge']);
    // Clock ticks (10 ms): 1.5 s of scavenging gave helpers ~100+ ticks without the flag here.
    expect(applied.helperTicks).toBeLessThanOrEqual(10);
    const kept = child(['--parallel-scavenge']);
    expect(kept.set).toEqual([]);
  }, 30_000);
});
