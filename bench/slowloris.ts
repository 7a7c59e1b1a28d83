// npm run bench:slowloris — do slow clients stop normal ones? Normal load through Gatehouse alone,
// then the same load while BENCH_SLOW_CLIENTS (default 300) slowloris clients attack from another
// process: half trickle their headers (one line a second), half send a body one byte a second
// (R-U-Dead-Yet); each reconnects when cut, as a real attacker would. Gatehouse runs with short
// slow-client limits (BENCH_SLOW_LIMIT, default 3s) and a route limit of 64 upstream connections,
// so the attack is cut several times within a row. Loopback only, bounded, installs nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fmt, freePort, load, NODE, start, waitForPort, runBench } from './lib.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SLOW = Number(process.env.BENCH_SLOW_CLIENTS ?? 300);
const LIMIT = process.env.BENCH_SLOW_LIMIT ?? '3s';
const root = new URL('../', import.meta.url).pathname;

/** Child mode: keep `n` slow clients on 127.0.0.1:port for `seconds`; print how often they were cut. */
async function attack(port: number, n: number, seconds: number): Promise<void> {
  let cut = 0;
  let opened = 0;
  const until = Date.now() + seconds * 1000;
  const open = (i: number): void => {
    if (Date.now() >= until) return;
    opened++;
    const s: Socket = connect(port, '127.0.0.1');
    const body = i % 2 === 1;
    s.on('error', () => {});
    s.once('connect', () =>
      s.write(
        body
          ? 'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n'
          : 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n',
      ),
    );
    const timer = setInterval(() => s.write(body ? 'x' : `X-Slow-${Date.now()}: 1\r\n`), 1000);
    s.once('close', () => {
      clearInterval(timer);
      if (Date.now() < until) {
        cut++;
        setTimeout(() => open(i), 50);
      }
    });
    setTimeout(() => s.destroy(), Math.max(0, until - Date.now())).unref();
  };
  for (let i = 0; i < n; i++) open(i);
  await new Promise((r) => setTimeout(r, seconds * 1000 + 200));
  process.stdout.write(`${JSON.stringify({ opened, cut })}\n`);
}

async function main(): Promise<void> {
  console.log(
    `Slowloris benchmark: ${CONNECTIONS} normal connections, ${SLOW} slow clients, ${SECONDS}s per row, slow-client limits ${LIMIT}, ${cpus().length} CPUs, Node ${process.version}`,
  );
  const upstreamPort = await freePort();
  start(NODE, [join(root, 'bench/upstream.ts'), String(upstreamPort)]);
  await waitForPort(upstreamPort);
  const ghPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-slowloris-'));
  writeFileSync(
    join(dir, 'gatehouse.yaml'),
    `log_level: warn
server:
  listen: "127.0.0.1:${ghPort}"
  public_url: "http://127.0.0.1:${ghPort}"
  headers_timeout: ${LIMIT}
  body_timeout: ${LIMIT}
  body_min_rate: 500
admin: { listen: "127.0.0.1:${await freePort()}" }
audit: { sinks: [] }
routes:
  - { name: app, path: /, upstream: "http://127.0.0.1:${upstreamPort}", allow: { public: true }, max_connections: 64 }
`,
  );
  start(NODE, [join(root, 'src/main.ts'), 'start', '--config', join(dir, 'gatehouse.yaml')]);
  await waitForPort(ghPort);
  const url = `http://127.0.0.1:${ghPort}/`;

  load(url, CONNECTIONS, 2);
  const quiet = load(url, CONNECTIONS, SECONDS);
  console.log(`${'no attack'.padEnd(28)} ${fmt(quiet)}   (${quiet.tool})`);

  const attacker = spawn(NODE, [new URL(import.meta.url).pathname, 'attack', String(ghPort), String(SLOW), String(SECONDS + 4)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let report = '';
  attacker.stdout.on('data', (c: Buffer) => (report += c.toString()));
  const done = new Promise<void>((r) => attacker.once('exit', () => r()));
  // Let the attack build up before measuring.
  await new Promise((r) => setTimeout(r, 2000));
  const attacked = load(url, CONNECTIONS, SECONDS);
  console.log(`${`${SLOW} slowloris clients`.padEnd(28)} ${fmt(attacked)}   (${attacked.tool})`);
  await done;
  const { opened, cut } = JSON.parse(report.trim() || '{"opened":0,"cut":0}') as { opened: number; cut: number };
  console.log('');
  console.log(
    `slow connections opened ${opened}, cut by Gatehouse ${cut}; normal throughput under attack ${(attacked.rps / quiet.rps).toFixed(2)}x, errors ${attacked.errors}`,
  );
}

if (process.argv[2] === 'attack') {
  void attack(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else {
  runBench(main);
}
