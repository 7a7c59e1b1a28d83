// A flame graph of a `node --cpu-prof` profile as a hand-written SVG (no library, no external
// service): each box a function on the stack, its width the share of the busy samples spent in it
// and what it called, its colour the request stage it belongs to (profile.ts frameStage), its
// tooltip the µs per request. bench:compare and bench write one next to every profile they take
// (BENCH_CPU_PROF); docs/performance.md shows one.
// Usage: node bench/lib/flame.ts FILE.cpuprofile REQUESTS OUT.svg
import { readFileSync, writeFileSync } from 'node:fs';
import { frameStage, START_UP, type Profile } from './profile.ts';

interface Frame {
  readonly name: string;
  readonly where: string;
  readonly stage: string;
  /** µs of samples in this frame and below. */
  total: number;
  readonly children: Frame[];
}

const COLOURS: Record<string, string> = {
  'audit (build, chain, write)': '#f0883e',
  'session lookup': '#a371f7',
  'identity headers + assertion': '#3fb9a0',
  'normalise, route, policy': '#56d364',
  'proxy (headers, dispatch, response)': '#58a6ff',
  'accept (client, request id, exchange)': '#79c0ff',
  metrics: '#e3b341',
  pipeline: '#39c5cf',
  'sign-in and bearer (auth/)': '#d2a8ff',
  'other Gatehouse': '#a5d6ff',
  'undici (upstream client: write, parse)': '#8ddb8c',
  'node http server (parse, respond)': '#b1bac4',
  'node sockets + streams': '#c9d1d9',
  'node event loop (ticks, timers, events)': '#d8dee4',
  logging: '#e6e6e6',
  GC: '#f85149',
  'write system calls': '#ff7b72',
  '(program)': '#eaeef2',
};
const colour = (stage: string) => COLOURS[stage] ?? '#dfe3e8';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The call tree with each node's total, idle time left out; frames under `minShare` of the busy time dropped. */
function callTree(p: Profile, minShare: number): { root: Frame; busyUs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Loading modules and compiling the config happen once, before the first request: left out.
  const startUp = new Map<number, boolean>();
  const isStartUp = (id: number): boolean => {
    let v = startUp.get(id);
    if (v === undefined) {
      const up = parent.get(id);
      v = START_UP.test(byId.get(id)!.callFrame.url) || (up !== undefined && isStartUp(up));
      startUp.set(id, v);
    }
    return v;
  };
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    if (!isStartUp(id)) selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  }
  const build = (id: number): Frame => {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const children = (n.children ?? []).filter((c) => byId.get(c)!.callFrame.functionName !== '(idle)').map(build);
    const total = (selfUs.get(id) ?? 0) + children.reduce((a, c) => a + c.total, 0);
    return {
      name: f.functionName || '(anonymous)',
      where: f.url === '' ? '' : `${f.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${f.lineNumber + 1}`,
      stage: frameStage(f.url, f.functionName),
      total,
      children,
    };
  };
  const root = build(p.nodes[0]!.id);
  const prune = (f: Frame) => {
    const keep = f.children.filter((c) => c.total > 0 && c.total >= root.total * minShare).sort((a, b) => a.name.localeCompare(b.name));
    f.children.splice(0, f.children.length, ...keep);
    for (const c of keep) prune(c);
  };
  prune(root);
  return { root, busyUs: root.total };
}

export function flameSvg(p: Profile, o: { requests: number; title: string; minShare?: number }): string {
  const { root, busyUs } = callTree(p, o.minShare ?? 0.002);
  const width = 1200;
  const rowH = 17;
  const top = 56;
  let depth = 0;
  const boxes: string[] = [];
  const perRequest = (us: number) => (o.requests > 0 ? `${(us / o.requests).toFixed(2)} µs/request, ` : '');
  const place = (f: Frame, x: number, level: number) => {
    depth = Math.max(depth, level);
    const w = (f.total / busyUs) * width;
    boxes.push(
      `<g data-level="${level}"><title>${esc(`${f.name}${f.where ? ` ${f.where}` : ''} — ${f.stage}: ${perRequest(f.total)}${((f.total / busyUs) * 100).toFixed(1)} %`)}</title>` +
        `<rect x="${x.toFixed(1)}" y="@${level}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${rowH - 1}" fill="${colour(f.stage)}"/>` +
        (w > 36 ? `<text x="${(x + 3).toFixed(1)}" y="@${level}t">${esc(f.name.slice(0, Math.floor((w - 6) / 6.6)))}</text>` : '') +
        '</g>',
    );
    let at = x;
    for (const c of f.children) {
      place(c, at, level + 1);
      at += (c.total / busyUs) * width;
    }
  };
  // The root ("(root)") is the whole busy time: its children start at the bottom row.
  let at = 0;
  for (const c of root.children) {
    place(c, at, 0);
    at += (c.total / busyUs) * width;
  }
  const height = top + (depth + 1) * rowH + 40;
  // Flame graphs grow upwards: level 0 at the bottom.
  const y = (level: number) => height - 40 - (level + 1) * rowH;
  const body = boxes.map((b) =>
    b.replace(/y="@(\d+)t"/, (_, l) => `y="${y(Number(l)) + 12}"`).replace(/y="@(\d+)"/, (_, l) => `y="${y(Number(l))}"`),
  );
  // The root (the whole busy time) is not drawn: its stage is not in the legend.
  const stages = [...new Set(root.children.flatMap(collectStages))].sort();
  const legend = stages
    .map((s, i) => {
      const lx = 10 + (i % 4) * 297;
      const ly = height - 26 + Math.floor(i / 4) * 14;
      return `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${colour(s)}"/><text x="${lx + 14}" y="${ly}" font-size="10">${esc(s)}</text>`;
    })
    .join('');
  const legendRows = Math.ceil(stages.length / 4);
  const fullHeight = height + (legendRows - 1) * 14;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${fullHeight}" viewBox="0 0 ${width} ${fullHeight}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="14" font-family="system-ui, sans-serif" font-weight="600">${esc(o.title)}</text>`,
    `<text x="10" y="38" font-size="11" font-family="system-ui, sans-serif" fill="#57606a">${esc(
      `width: share of ${(busyUs / 1000).toFixed(0)} ms of busy samples${o.requests > 0 ? ` (${(busyUs / o.requests).toFixed(1)} µs per request over ${o.requests} requests)` : ''}; a box is a function and what it called; colour: request stage; hover for figures`,
    )}</text>`,
    ...body,
    legend,
    '</svg>',
  ].join('\n');
}

function collectStages(f: Frame): string[] {
  return [f.stage, ...f.children.flatMap(collectStages)];
}

/** Reads a .cpuprofile and writes its flame graph. */
export function writeFlameGraph(profileFile: string, requests: number, out: string, title?: string): void {
  const p = JSON.parse(readFileSync(profileFile, 'utf8')) as Profile;
  writeFileSync(out, flameSvg(p, { requests, title: title ?? `CPU profile ${profileFile}` }));
}

if (import.meta.url === `file://${process.argv[1]}`) writeFlameGraph(process.argv[2]!, Number(process.argv[3] ?? 0), process.argv[4]!);
