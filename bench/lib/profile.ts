// Where a proxied request's time goes: a `node --cpu-prof` profile of a bench row, summed by stage.
// A sample belongs to the innermost Gatehouse frame on its stack (so Node's socket writes made by
// proxy/http.ts count as the proxy stage's, a hash computed by audit/ as audit's); a sample with no
// Gatehouse frame belongs to where it was taken (undici's parser, Node's HTTP parser, GC, …).
// Usage: node bench/lib/profile.ts FILE.cpuprofile REQUESTS
import { readFileSync } from 'node:fs';

export interface Node {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
export interface Profile {
  readonly nodes: readonly Node[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface StageTime {
  readonly stage: string;
  readonly ms: number;
  /** Share of the busy (non-idle) time. */
  readonly share: number;
  readonly usPerRequest: number;
}

// Gatehouse's own files, by stage of the request walk (src/server/pipeline.ts).
const STAGES: [RegExp, string][] = [
  [/\/src\/(audit\/|server\/finish\.ts)/, 'audit (build, chain, write)'],
  [/\/src\/session\//, 'session lookup'],
  [/\/src\/identity\//, 'identity headers + assertion'],
  [/\/src\/(policy|route|uri)\/|\/src\/server\/target\.ts/, 'normalise, route, policy'],
  [/\/src\/proxy\//, 'proxy (headers, dispatch, response)'],
  [/\/src\/http\//, 'accept (client, request id, exchange)'],
  [/\/src\/admin\//, 'metrics'],
  [/\/src\/(server|runtime)/, 'pipeline'],
  [/\/src\/auth\//, 'sign-in and bearer (auth/)'],
  [/\/src\//, 'other Gatehouse'],
];

/** Frames of the start-up (module loading, the CLI, the config compile): not a request's time. */
export const START_UP = /internal\/(modules|deps\/amaro|bootstrap)\/|\/src\/(cli|config)\//;

const SYSCALLS = new Set(['writev', 'writeBuffer', 'writeLatin1String', 'writeUtf8String', 'writeAsciiString']);

/** Where a sample with no Gatehouse frame was taken: by the nearest frame that has a source. */
function nodeStage(url: string, fn: string): string | undefined {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)') return fn;
  if (url === '') return undefined;
  if (url.includes('/undici/') || url.startsWith('wasm://')) return 'undici (upstream client: write, parse)';
  if (url.includes('/ioredis/') || url.includes('/redis')) return 'session lookup';
  if (url.includes('/pino')) return 'logging';
  if (/node:_http_(server|incoming|common|outgoing)/.test(url)) return 'node http server (parse, respond)';
  if (/node:(net|stream|internal\/streams|internal\/stream_base)/.test(url)) return 'node sockets + streams';
  return 'node event loop (ticks, timers, events)';
}
/** One frame's stage on its own (a flame graph's colour): Gatehouse's files by stage, the rest by owner. */
export function frameStage(url: string, fn: string): string {
  if (SYSCALLS.has(fn) && url === '') return 'write system calls';
  if (url.includes('/src/') && !url.includes('node_modules')) return STAGES.find(([re]) => re.test(url))?.[1] ?? 'other Gatehouse';
  return nodeStage(url, fn) ?? 'native (V8, libuv, the kernel)';
}

export function summarise(file: string, requests: number): { stages: StageTime[]; top: { fn: string; ms: number }[]; busyMs: number } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, Node>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const stageOf = new Map<number, string>();
  const stage = (id: number): string => {
    const known = stageOf.get(id);
    if (known) return known;
    const leaf = byId.get(id)!;
    // The write system calls themselves (response to the client, request to the upstream, audit
    // file), whoever asked: the kernel's share, the floor of any proxy.
    let s: string | undefined = SYSCALLS.has(leaf.callFrame.functionName) && leaf.callFrame.url === '' ? 'write system calls' : undefined;
    // Loading and compiling modules, the CLI and config compile happen once, before the first request: not a request's time.
    for (let at: number | undefined = id; at !== undefined && !s; at = parent.get(at)) {
      if (START_UP.test(byId.get(at)!.callFrame.url)) s = '(start-up)';
    }
    for (let at: number | undefined = id; at !== undefined && !s; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      if (url.includes('/src/') && !url.includes('node_modules')) s = STAGES.find(([re]) => re.test(url))?.[1];
    }
    for (let at: number | undefined = id; at !== undefined && !s; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      s = nodeStage(f.url, f.functionName);
    }
    s ??= `native: ${leaf.callFrame.functionName}`;
    stageOf.set(id, s);
    return s;
  };
  const ms = new Map<string, number>();
  const self = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const s = stage(id);
    ms.set(s, (ms.get(s) ?? 0) + dt);
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  ms.delete('(idle)');
  ms.delete('(start-up)');
  const busyMs = [...ms.values()].reduce((a, b) => a + b, 0);
  const stages = [...ms]
    .map(([stage, t]) => ({ stage, ms: t, share: t / busyMs, usPerRequest: (t * 1000) / Math.max(1, requests) }))
    .sort((a, b) => b.ms - a.ms);
  const top = [...self]
    .filter(([k]) => !k.startsWith('(idle)'))
    .map(([fn, t]) => ({ fn, ms: t }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 25);
  return { stages, top, busyMs };
}

export function printSummary(file: string, requests: number): void {
  const { stages, top, busyMs } = summarise(file, requests);
  console.log(
    `\nCPU profile ${file}: ${(busyMs / 1000).toFixed(1)} s busy, ${requests} requests, ${((busyMs * 1000) / requests).toFixed(1)} µs/request`,
  );
  console.log('| stage | share of busy time | µs per request |\n|---|---|---|');
  for (const s of stages) console.log(`| ${s.stage} | ${(s.share * 100).toFixed(1)} % | ${s.usPerRequest.toFixed(1)} |`);
  console.log('\ntop self time:');
  for (const t of top) console.log(`${t.ms.toFixed(0).padStart(7)} ms  ${t.fn}`);
}

if (import.meta.url === `file://${process.argv[1]}`) printSummary(process.argv[2]!, Number(process.argv[3] ?? 1));
