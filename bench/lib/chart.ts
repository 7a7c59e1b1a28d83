// The peer benchmark's chart as a hand-written SVG (no library, no external service): one line per
// system, requests/s as a bar on the left, p99 latency as a bar on the right, each with its figure.
import type { LoadResult } from '../lib.ts';

interface ChartRow {
  readonly id: string;
  readonly name: string;
  readonly result: LoadResult;
}

interface ChartInfo {
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly model: string; readonly node: string; readonly connections: number };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLOURS: Record<string, string> = {
  direct: '#9e9e9e',
  nginx: '#4caf50',
  'apache-shm': '#e57373',
  'apache-redis': '#c62828',
};
const colour = (id: string) => COLOURS[id] ?? '#1e6fd9';

export function compareSvg(rows: readonly ChartRow[], info: ChartInfo): string {
  const labelW = 300;
  const rpsW = 330;
  const gap = 80;
  const p99W = 200;
  const rowH = 30;
  const top = 64;
  const p99X = labelW + rpsW + gap;
  const width = p99X + p99W + 80;
  const height = top + rows.length * rowH + 36;
  const maxRps = Math.max(1, ...rows.map((r) => r.result.rps));
  const maxP99 = Math.max(12, ...rows.map((r) => (Number.isFinite(r.result.p99ms) ? r.result.p99ms : 0)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">npm run bench:compare: requests/s and p99 latency per system</text>`,
    `<text x="12" y="40" fill="#555">${esc(`${info.machine.cpus} × ${info.machine.model}, Node ${info.machine.node}, ${info.machine.connections} connections, ${info.date.slice(0, 10)} (load generator, upstream, Redis and proxy share the CPUs)`)}</text>`,
    `<text x="${labelW}" y="${top - 6}" fill="#555">requests/s (longer is better)</text>`,
    `<text x="${p99X}" y="${top - 6}" fill="#555">p99 latency (shorter is better)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, (r.result.rps / maxRps) * rpsW);
    const p99 = Number.isFinite(r.result.p99ms) ? r.result.p99ms : 0;
    const pw = Math.max(1, (p99 / maxP99) * p99W);
    parts.push(
      `<text x="${labelW - 8}" y="${y + 18}" text-anchor="end">${esc(r.name)}</text>`,
      `<rect x="${labelW}" y="${y + 5}" width="${w.toFixed(1)}" height="18" fill="${colour(r.id)}"/>`,
      `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 18}">${Math.round(r.result.rps).toLocaleString('en')}</text>`,
      `<rect x="${p99X}" y="${y + 5}" width="${pw.toFixed(1)}" height="18" fill="${colour(r.id)}" opacity="0.55"/>`,
      `<text x="${(p99X + pw + 4).toFixed(1)}" y="${y + 18}">${p99.toFixed(1)} ms</text>`,
    );
  });
  parts.push(
    `<line x1="${labelW}" y1="${top}" x2="${labelW}" y2="${top + rows.length * rowH}" stroke="#333"/>`,
    `<line x1="${p99X}" y1="${top}" x2="${p99X}" y2="${top + rows.length * rowH}" stroke="#333"/>`,
    `<line x1="${p99X + (10 / maxP99) * p99W}" y1="${top}" x2="${p99X + (10 / maxP99) * p99W}" y2="${top + rows.length * rowH}" stroke="#c62828" stroke-dasharray="4 3"/>`,
    `<text x="${p99X + (10 / maxP99) * p99W}" y="${top + rows.length * rowH + 16}" fill="#c62828" text-anchor="middle">10 ms</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
