// CPU accounting for a benchmark row (Linux /proc): what a system under test consumed per request,
// by thread name, and what the whole machine did meanwhile (busy and steal). Requests per second
// on a shared VM drift with its neighbours; CPU time per request drifts much less, and it says
// where a difference between two rows comes from (the event loop, the audit thread, GC threads).
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second (USER_HZ): 100 on every Linux this runs on. */
const HZ = 100;

export interface GroupCpu {
  /** CPU seconds of every process in the group, all threads. */
  readonly total: number;
  /** CPU seconds by thread name (comm), summed over the group's processes. */
  readonly byThread: ReadonlyMap<string, number>;
}

/** `comm` may hold spaces and parentheses: the fields start after the last ')'. */
function fields(stat: string): { comm: string; rest: string[] } {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  return { comm: stat.slice(open + 1, close), rest: stat.slice(close + 2).split(' ') };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process or thread ended meanwhile
  }
}

/** The CPU time of the processes in group `pgid` (a child started with lib.ts start(..., { group: true })). */
export function groupCpu(pgid: number): GroupCpu {
  let total = 0;
  const byThread = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = read(`/proc/${pid}/stat`);
    if (!stat) continue;
    const { rest } = fields(stat);
    // rest[0] = state, [2] = pgrp, [11] = utime, [12] = stime
    if (Number(rest[2]) !== pgid) continue;
    total += (Number(rest[11]) + Number(rest[12])) / HZ;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      const t = read(`/proc/${pid}/task/${tid}/stat`);
      if (!t) continue;
      const f = fields(t);
      // The main thread is named after the program; say which one it is.
      const name = tid === pid ? `${f.comm} (main)` : f.comm;
      byThread.set(name, (byThread.get(name) ?? 0) + (Number(f.rest[11]) + Number(f.rest[12])) / HZ);
    }
  }
  return { total, byThread };
}

export interface MachineCpu {
  /** Seconds of CPU time, all CPUs: busy (user, nice, system, irq, softirq), idle (+ iowait), steal. */
  readonly busy: number;
  readonly idle: number;
  readonly steal: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).map(Number) as number[];
  return {
    busy: (user! + nice! + system! + irq! + softirq!) / HZ,
    idle: (idle! + iowait!) / HZ,
    steal: (steal ?? 0) / HZ,
  };
}

export interface CpuDelta {
  /** µs of the system's CPU per request, all its processes and threads. */
  readonly usPerRequest: number;
  /** The same by thread name, largest first. */
  readonly threads: readonly { readonly name: string; readonly usPerRequest: number }[];
  /** The machine over the run: share of CPU time busy, and stolen by the hypervisor. */
  readonly machineBusy: number;
  readonly machineSteal: number;
}

export function cpuDelta(before: { g: GroupCpu; m: MachineCpu }, after: { g: GroupCpu; m: MachineCpu }, requests: number): CpuDelta {
  const n = Math.max(1, requests);
  const threads = [...after.g.byThread]
    .map(([name, s]) => ({ name, usPerRequest: ((s - (before.g.byThread.get(name) ?? 0)) * 1e6) / n }))
    .filter((t) => t.usPerRequest >= 0.5)
    .sort((a, b) => b.usPerRequest - a.usPerRequest);
  const busy = after.m.busy - before.m.busy;
  const idle = after.m.idle - before.m.idle;
  const steal = after.m.steal - before.m.steal;
  const all = Math.max(1e-9, busy + idle + steal);
  return {
    usPerRequest: ((after.g.total - before.g.total) * 1e6) / n,
    threads,
    machineBusy: busy / all,
    machineSteal: steal / all,
  };
}
