// npm run bench:spool — issue 12 item 3: does draining a large audit spool stall normal requests?
// Gatehouse (a child process) starts with an HTTP NDJSON audit sink whose spool already holds
// SPOOL_MB of records (written as the spool file of an earlier run) and whose receiver is down.
// An open-loop load of RATE requests/s runs through Gatehouse all along, every request's latency
// kept (from its scheduled start, so a stall counts in full): WARMUP_SECONDS not counted,
// BASELINE_SECONDS as the baseline, then the receiver comes up and the spool drains, then
// BASELINE_SECONDS more. Prints p50/p99/max before, during and after the drain.
// Target: p99 during the drain < 50 ms. A benchmark, not a test: nothing here fails a build.
// Env: SPOOL_MB (100), RATE (300 req/s), MAX_SECONDS (180), WARMUP_SECONDS (3), BASELINE_SECONDS (5),
//      GATEHOUSE_MAIN (src/main.ts; point it at another checkout's src/main.ts to compare),
//      GATEHOUSE_NODE_ARGS (extra node flags for Gatehouse, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { chainLine } from '../src/audit/chain.ts';
import { toRecord } from '../src/audit/record.ts';
import { openSpool } from '../src/audit/spool.ts';
import { sampleRequest } from '../test/support/audit.ts';
import { freePort, NODE, start, stopAll, waitForPort } from './lib.ts';

const SPOOL_MB = Number(process.env.SPOOL_MB ?? 100);
const RATE = Number(process.env.RATE ?? 300);
const MAX_SECONDS = Number(process.env.MAX_SECONDS ?? 180);
const BASELINE_SECONDS = Number(process.env.BASELINE_SECONDS ?? 5);
const WARMUP_SECONDS = Number(process.env.WARMUP_SECONDS ?? 3);
const root = new URL('../', import.meta.url).pathname;
const MAIN = process.env.GATEHOUSE_MAIN ?? join(root, 'src/main.ts');

// `--receiver <port>`: the SIEM, in its own process so its gunzip does not skew the load's clock.
if (process.argv[2] === '--receiver') {
  const gunzipAsync = promisify(gunzip);
  let records = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.end(JSON.stringify({ records }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? await gunzipAsync(body) : body).toString('utf8');
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) records++;
      res.end('{}');
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(process.argv[3]), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main().finally(stopAll);
}

interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly ok: boolean;
}

async function main(): Promise<void> {
  console.log(
    `spool drain benchmark: ${SPOOL_MB} MB spool, ${RATE} req/s open-loop, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${MAIN}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-spool-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const upstreamPort = await freePort();
  start(NODE, [join(root, 'bench/upstream.ts'), String(upstreamPort)]);
  // The SIEM's port, with nothing on it yet: Gatehouse starts, finds its spool, cannot deliver.
  const rxPort = await freePort();
  await waitForPort(upstreamPort);

  // The spool of an earlier run: one file of chained ECS records, as large as asked.
  const spoolDir = join(dir, 'spool');
  mkdirSync(spoolDir);
  const sinkUrl = `http://127.0.0.1:${rxPort}/ingest`;
  const probe = openSpool(spoolDir, `http:${new URL(sinkUrl).origin}${new URL(sinkUrl).pathname}`);
  await probe.close();
  const spooled = writeSpool(`${probe.path}.spool`, SPOOL_MB * 1024 * 1024);
  console.log(`spool: ${spooled.records} records, ${(spooled.bytes / 1024 / 1024).toFixed(1)} MB`);

  const port = await freePort();
  const config = join(dir, 'gatehouse.yaml');
  writeFileSync(
    config,
    [
      'log_level: warn',
      `server: { listen: "127.0.0.1:${port}", public_url: "http://127.0.0.1:4180" }`,
      'admin: { listen: "127.0.0.1:0" }',
      'audit:',
      `  spool_dir: "${spoolDir}"`,
      '  sinks:',
      `    - { type: http, url: "${sinkUrl}", format: ndjson, timeout: "30s" }`,
      'routes:',
      `  - { name: app, upstream: "http://127.0.0.1:${upstreamPort}", allow: { public: true } }`,
      '',
    ].join('\n'),
  );
  const started = Date.now();
  const nodeArgs = (process.env.GATEHOUSE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const gh = spawn(NODE, [...nodeArgs, MAIN, 'start', '--config', config], { stdio: ['ignore', 'inherit', 'inherit'] });
  process.on('exit', () => gh.kill('SIGKILL'));
  await waitForPort(port, 60_000, 'gatehouse');
  console.log(`gatehouse listening after ${Date.now() - started} ms`);

  // Phases of one continuous load: warm-up (not counted), baseline, then the SIEM comes back and
  // the spool drains, then BASELINE_SECONDS more once it is empty.
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32, pipelining: 1 });
  const samples: Sample[] = [];
  const received = async () => {
    try {
      return (JSON.parse(await (await fetch(`http://127.0.0.1:${rxPort}/`)).text()) as { records: number }).records;
    } catch {
      return 0;
    }
  };
  const t0 = Date.now();
  const baselineFrom = t0 + WARMUP_SECONDS * 1000;
  const siemAt = baselineFrom + BASELINE_SECONDS * 1000;
  let siemStarted = false;
  let drainFrom: number | undefined;
  let drainedAt: number | undefined;
  const watch = setInterval(() => {
    const now = Date.now();
    if (!siemStarted && now >= siemAt) {
      siemStarted = true;
      start(NODE, [new URL(import.meta.url).pathname, '--receiver', String(rxPort)]);
    }
    if (!siemStarted) return;
    void received().then((n) => {
      if (drainFrom === undefined && n > 0) drainFrom = now;
      if (drainedAt === undefined && n >= spooled.records) drainedAt = Date.now();
    });
  }, 50);
  const stopAt = () => (drainedAt !== undefined ? drainedAt + BASELINE_SECONDS * 1000 : siemAt + MAX_SECONDS * 1000);
  let sent = 0;
  const inflight = new Set<Promise<void>>();
  while (Date.now() < stopAt()) {
    // Open loop: requests leave on schedule whether or not earlier ones have answered.
    const due = t0 + (sent * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent++;
    const p = pool.request({ method: 'GET', path: `/bench/${sent}` }).then(
      async (r) => {
        await r.body.dump();
        samples.push({ at: due, ms: Date.now() - due, ok: r.statusCode === 200 });
      },
      () => {
        samples.push({ at: due, ms: Date.now() - due, ok: false });
      },
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  await Promise.all(inflight);
  clearInterval(watch);
  await pool.close();

  const from = drainFrom ?? siemAt;
  const end = drainedAt ?? Date.now();
  console.log(
    drainedAt === undefined
      ? `drain: NOT finished within ${MAX_SECONDS} s of the SIEM's return (${await received()} of ${spooled.records} records delivered)`
      : `drain: ${spooled.records} records in ${((end - from) / 1000).toFixed(1)} s (${Math.round(spooled.records / ((end - from) / 1000))} records/s)`,
  );
  report(
    'before the drain (baseline)',
    samples.filter((s) => s.at >= baselineFrom && s.at < from),
  );
  const during = samples.filter((s) => s.at >= from && s.at < end);
  report('during the drain', during);
  report(
    'after it',
    samples.filter((s) => s.at >= end),
  );
  const p99 = pct(
    during.map((s) => s.ms),
    99,
  );
  console.log(`target p99 < 50 ms during the drain: ${p99 < 50 ? 'met' : 'MISSED'} (${p99.toFixed(1)} ms)`);
  const exited = new Promise((r) => gh.once('exit', r));
  gh.kill('SIGTERM');
  await exited;
}

function report(what: string, s: readonly Sample[]): void {
  const ms = s.map((x) => x.ms);
  const errors = s.filter((x) => !x.ok).length;
  console.log(
    `${what.padEnd(30)} n=${String(s.length).padStart(6)}   p50 ${pct(ms, 50).toFixed(1).padStart(7)} ms   p99 ${pct(ms, 99).toFixed(1).padStart(7)} ms   max ${Math.max(
      0,
      ...ms,
    )
      .toFixed(0)
      .padStart(6)} ms${errors ? `   errors ${errors}` : ''}`,
  );
}

function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Chained ECS records (the real builders) until the file holds `bytes`. */
function writeSpool(file: string, bytes: number): { records: number; bytes: number } {
  const fd = openSync(file, 'w', 0o600);
  let prev = '';
  let written = 0;
  let records = 0;
  try {
    while (written < bytes) {
      const chunk: string[] = [];
      for (let i = 0; i < 1000; i++) {
        records++;
        const { line, hash } = chainLine(
          toRecord(sampleRequest(records), { sequence: records, bootId: 'bench-earlier-run' }, 'ecs', prev),
          prev,
          true,
        );
        chunk.push(line);
        prev = hash;
      }
      written += writeSync(fd, `${chunk.join('\n')}\n`);
    }
  } finally {
    closeSync(fd);
  }
  return { records, bytes: written };
}
