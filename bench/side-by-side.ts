// npm run bench:side-by-side -- [variant ...] — several Gatehouse processes under the same load at
// the same moment, and what each one costs in CPU per request (all its threads, and its event loop
// alone). bench:compare measures one system at a time, so a shared VM whose speed drifts by up to
// 2x within minutes moves its rows apart; here every variant runs through the same drift. Name a
// variant twice to see what is noise (two processes of one variant differ by 10 µs and more per
// request in a round, so read the rounds column, not one median). It answers "what does
// X cost", not "how fast is it": each variant gets its own wrk with BENCH_CONNECTIONS connections
// (default 10), BENCH_SECONDS per round (default 10), BENCH_ROUNDS rounds (default 3), every process
// started afresh each round (a process keeps its luck with the scheduler for life); BENCH_NODE_FLAGS
// are Node flags for every variant (`--import <file>` to load an instrumenting module, a GC flag).
//
// A variant is `audit=file` (everything on, audit to a file: the default config), `audit=none`,
// `audit=thread` (audit.worker_thread: true), each optionally `@<checkout>` to run another checkout's
// Gatehouse (an A/B of two commits: `git worktree add /tmp/before HEAD~1`, then
// `npm run bench:side-by-side -- audit=file@/tmp/before audit=file`), then, space-separated in the
// same argument, Node flags for that variant alone (`'audit=file --no-parallel-scavenge'`).
// Default: audit=none audit=file audit=thread. Loopback only; needs wrk and redis-server; installs nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startDemoIdp } from '../src/demo/idp.ts';
import { freePort, has, loadAsync, NODE, start, waitForPort, type LoadResult, runBench } from './lib.ts';
import { cpuDelta, groupCpu, machineCpu, type CpuDelta } from './lib/cpu.ts';
import { startGatehouse, stopChild } from './lib/gatehouse.ts';
import { createSessions } from './lib/many-sessions.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Math.max(1, Math.min(9, Number(process.env.BENCH_ROUNDS ?? 3)));
const SECRET = 'side-by-side-bench-secret-0123456789abcdef';
const KEY_PREFIX = 'sbs:';
const MAIN = 'MainThread (main)';

interface Variant {
  readonly label: string;
  readonly audit: false | 'file' | 'thread';
  readonly checkout: string | undefined;
  /** Node flags for this variant alone (after BENCH_NODE_FLAGS). */
  readonly flags: readonly string[];
}

function parseVariant(spec: string): Variant {
  const [head, ...flags] = spec.trim().split(/\s+/) as [string, ...string[]];
  const [what, checkout] = head.split('@') as [string, string | undefined];
  const m = /^audit=(none|file|thread)$/.exec(what);
  if (!m || flags.some((f) => !f.startsWith('--')))
    throw new Error(`unknown variant "${spec}": audit=none|file|thread, optionally @<checkout directory>, then Node flags (--…)`);
  const audit = m[1] === 'none' ? false : (m[1] as 'file' | 'thread');
  return { label: spec.trim().replace(/\s+/g, ' '), audit, checkout, flags };
}

interface Sample {
  readonly result: LoadResult;
  readonly cpu: CpuDelta;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main(): Promise<void> {
  if (!has('wrk') || !has('redis-server')) throw new Error('needs wrk and redis-server (apt-get install wrk redis-server)');
  const args = process.argv.slice(2);
  const variants = (args.length > 0 ? args : ['audit=none', 'audit=file', 'audit=thread']).map(parseVariant);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-side-by-side-'));
  const [upstreamPort, redisPort] = await Promise.all([freePort(), freePort()]);
  start(NODE, [new URL('./upstream.ts', import.meta.url).pathname, String(upstreamPort)]);
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await Promise.all([waitForPort(upstreamPort), waitForPort(redisPort)]);
  const ports = await Promise.all(variants.map(() => freePort()));
  const idp = await startDemoIdp({
    clients: [
      {
        client_id: 'bench-gatehouse',
        client_secret: 'bench-secret',
        redirect_uris: ports.map((p) => `http://127.0.0.1:${p}/.gatehouse/oidc/corp/callback`),
      },
    ],
  });
  let children: ChildProcess[] = [];
  // Every round starts the processes afresh, in an order that rotates: two processes of the same
  // variant started once ran 20-30 % apart for a whole run (where the kernel put their threads),
  // which no number of rounds averages out.
  // Each one joins `children` as it starts: a start that fails leaves the others to the cleanup.
  const startAll = async (round: number): Promise<ChildProcess[]> => {
    const started: ChildProcess[] = [];
    children = [];
    for (let k = 0; k < variants.length; k++) {
      const i = (k + round) % variants.length;
      const v = variants[i]!;
      const child = await startGatehouse({
        name: `v${i}`,
        dir,
        port: ports[i]!,
        idpIssuer: idp.issuer,
        upstreamPort,
        redisPort,
        keyPrefix: KEY_PREFIX,
        secret: SECRET,
        audit: v.audit,
        checkout: v.checkout,
        nodeFlags: [...(process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean), ...v.flags],
      });
      started[i] = child;
      children.push(child);
    }
    return started;
  };
  try {
    // One session, as a sign-in makes it, shared by every variant (same store, prefix and secret).
    const [cookie] = await createSessions({
      redisUrl: `redis://127.0.0.1:${redisPort}`,
      keyPrefix: KEY_PREFIX,
      secret: SECRET,
      count: 1,
      idp: 'corp',
      cookieName: 'gatehouse',
      user: () => ({ user: 'alice@example.com', email: 'alice@example.com', name: 'Alice', groups: ['ml-admins', 'data-scientists'] }),
    });
    const headers = { cookie: cookie! };
    const url = (i: number) => `http://127.0.0.1:${ports[i]}/`;
    console.log(
      `side by side: ${variants.length} Gatehouse processes, each with its own wrk (${CONNECTIONS} connections), all at once; ${ROUNDS} round(s) of ${SECONDS} s, the processes started afresh each round`,
    );
    const samples: Sample[][] = variants.map(() => []);
    for (let round = 1; round <= ROUNDS; round++) {
      children = await startAll(round);
      await Promise.all(variants.map((_, i) => loadAsync(url(i), CONNECTIONS, 2, headers)));
      const before = children.map((c) => ({ g: groupCpu(c.pid!), m: machineCpu() }));
      const results = await Promise.all(variants.map((_, i) => loadAsync(url(i), CONNECTIONS, SECONDS, headers)));
      const after = children.map((c) => ({ g: groupCpu(c.pid!), m: machineCpu() }));
      const line = variants.map((v, i) => {
        const cpu = cpuDelta(before[i]!, after[i]!, results[i]!.requests);
        samples[i]!.push({ result: results[i]!, cpu });
        const main = cpu.threads.find((t) => t.name === MAIN)?.usPerRequest ?? 0;
        return `${v.label} ${Math.round(results[i]!.rps)} req/s p99 ${results[i]!.p99ms.toFixed(1)} ms, ${cpu.usPerRequest.toFixed(1)} µs (event loop ${main.toFixed(1)})`;
      });
      const busy = cpuDelta(before[0]!, after[0]!, 1);
      console.log(`round ${round}: ${line.join(' | ')}; machine busy ${(busy.machineBusy * 100).toFixed(0)} %`);
      for (const c of children) await stopChild(c);
      children = [];
    }
    console.log(`\nmedian of ${ROUNDS} round(s), CPU per request (µs):\n`);
    console.log(
      '| variant | req/s | p99 | all threads | event loop | vs first (all / event loop) | rounds with more req/s than the first |\n|---|---|---|---|---|---|---|',
    );
    const first = { all: 0, main: 0 };
    const ahead = (i: number) => samples[i]!.filter((s, r) => s.result.rps > samples[0]![r]!.result.rps).length;
    for (const [i, v] of variants.entries()) {
      const all = median(samples[i]!.map((s) => s.cpu.usPerRequest));
      const main = median(samples[i]!.map((s) => s.cpu.threads.find((t) => t.name === MAIN)?.usPerRequest ?? 0));
      if (i === 0) Object.assign(first, { all, main });
      const rps = median(samples[i]!.map((s) => s.result.rps));
      const p99 = median(samples[i]!.map((s) => s.result.p99ms));
      const vs =
        i === 0
          ? ''
          : `${all - first.all >= 0 ? '+' : ''}${(all - first.all).toFixed(1)} / ${main - first.main >= 0 ? '+' : ''}${(main - first.main).toFixed(1)}`;
      console.log(
        `| ${v.label} | ${Math.round(rps).toLocaleString('en')} | ${p99.toFixed(1)} ms | ${all.toFixed(1)} | ${main.toFixed(1)} | ${vs} | ${i === 0 ? '' : `${ahead(i)} of ${ROUNDS}`} |`,
      );
    }
  } finally {
    await idp.close();
    for (const c of children) await stopChild(c);
  }
}

runBench(main);
