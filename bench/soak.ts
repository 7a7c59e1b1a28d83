// npm run soak — the long run (issue 12): Gatehouse as `gatehouse start` with Redis sessions, a
// group policy, identity headers and an audit file, under steady open-loop load plus a crowd of
// idle WebSockets, for SOAK_MINUTES. Every minute it prints the minute's requests, errors, p50 and
// p99, and Gatehouse's RSS, V8 heap, open file descriptors and open WebSockets, so memory or fd
// growth and latency drift show. Loopback only, bounded (at most 60 minutes), installs nothing;
// starts its own redis-server (memory store when there is none).
//
//   SOAK_MINUTES=10 SOAK_RATE=1000 SOAK_WEBSOCKETS=3000 npm run soak
//
// Knobs: SOAK_MINUTES (default 5), SOAK_RATE requests/s (default 1000), SOAK_CONNECTIONS keep-alive
// connections for them (default 32), SOAK_WEBSOCKETS (default 1000; each sends a message every 10 s).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool, request } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { compileConfig } from '../src/config/compile.ts';
import { silentLogger } from '../src/log.ts';
import { sessionsFromConfig } from '../src/session/create.ts';
import { freePort, has, NODE, start, waitForPort, runBench } from './lib.ts';

const bounded = (name: string, fallback: number, max: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return Math.min(v, max);
};
const MINUTES = bounded('SOAK_MINUTES', 5, 60);
const RATE = bounded('SOAK_RATE', 1000, 20_000);
const CONNECTIONS = Math.round(bounded('SOAK_CONNECTIONS', 32, 512));
const WEBSOCKETS = Math.round(bounded('SOAK_WEBSOCKETS', 1000, 10_000));
const root = new URL('../', import.meta.url).pathname;
const SECRET = 'soak-secret-soak-secret-soak-secret-01234567';

/** Child mode: the upstream (HTTP: a small JSON answer; WebSocket: echo), in its own process. */
function upstream(port: number): void {
  const server = createServer((req, res) => {
    const body = `{"ok":true,"user":${JSON.stringify(req.headers['x-forwarded-user'] ?? null)}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

interface Minute {
  sent: number;
  ok: number;
  errors: number;
  latencies: number[];
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** VmRSS of a process in MB, and its open file descriptors (Linux /proc). */
function processStats(pid: number): { rssMb: number; fds: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { rssMb: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssMb: NaN, fds: NaN };
  }
}

async function heapMb(adminUrl: string): Promise<number> {
  try {
    const text = await (await request(`${adminUrl}/metrics`)).body.text();
    return Number(/^gatehouse_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / 1024 / 1024;
  } catch {
    return NaN;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  console.log(
    `Gatehouse soak: ${MINUTES} min, ${RATE} req/s on ${CONNECTIONS} connections, ${WEBSOCKETS} WebSockets, ${cpus().length} CPUs, Node ${process.version}`,
  );

  let store = 'store: memory';
  let redisUrl: string | undefined;
  if (has('redis-server')) {
    const redisPort = await freePort();
    start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await waitForPort(redisPort);
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    store = `store: redis\n  redis: { url: "${redisUrl}", key_prefix: "soak:" }`;
  } else {
    console.log('redis-server not found: the load uses a public route (a session can only be minted from outside through Redis)');
  }
  const upstreamPort = await freePort();
  start(NODE, [join(root, 'bench/soak.ts'), 'upstream', String(upstreamPort)]);
  await waitForPort(upstreamPort);

  const [ghPort, adminPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'gatehouse.yaml'),
    `log_level: warn
server: { listen: "127.0.0.1:${ghPort}", public_url: "http://127.0.0.1:${ghPort}" }
admin: { listen: "127.0.0.1:${adminPort}" }
session:
  ${store}
  secret: "${SECRET}"
  cookie: { secure: false }
audit:
  sinks: [ { type: file, path: "${join(dir, 'audit.ndjson')}", max_size: 50MB, max_files: 2 } ]
  spool_dir: "${join(dir, 'spool')}"
routes:
  - { name: open, path: /open, upstream: "http://127.0.0.1:${upstreamPort}", allow: { public: true } }
  - { name: app, path: /, upstream: "http://127.0.0.1:${upstreamPort}", allow: { groups: [ml] } }
`,
  );
  const gh = start(NODE, [join(root, 'src/main.ts'), 'start', '--config', join(dir, 'gatehouse.yaml')]);
  await waitForPort(ghPort);
  await waitForPort(adminPort);
  const base = `http://127.0.0.1:${ghPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;

  // A session in the same Redis with the same secret, as a sign-in would make it.
  let path = '/open/soak';
  let headers: Record<string, string> = {};
  if (redisUrl) {
    const { config } = compileConfig({
      server: { public_url: base },
      session: { store: 'redis', redis: { url: redisUrl, key_prefix: 'soak:' }, secret: SECRET, cookie: { secure: false } },
      routes: [{ name: 'x', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
    });
    const sessions = sessionsFromConfig(config.session, silentLogger);
    await new Promise((r) => setTimeout(r, 200));
    const { cookieValue } = await sessions.create({ user: 'soak@corp.example', groups: ['ml'], idp: 'soak', method: 'soak' });
    await sessions.close();
    path = '/app/soak';
    headers = { cookie: `gatehouse=${cookieValue}` };
  }

  // WebSockets: opened in batches, each sends a message every 10 s and expects it back.
  let wsOpen = 0;
  let wsFailed = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < WEBSOCKETS; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, WEBSOCKETS - i) },
        () =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(`ws://127.0.0.1:${ghPort}${path.replace('soak', 'ws')}`, { headers });
            sockets.push(ws);
            ws.once('open', () => {
              wsOpen++;
              // Spread over the 10 s, so the crowd does not speak all at once.
              let timer: NodeJS.Timeout = setTimeout(() => {
                timer = setInterval(() => ws.send('ping'), 10_000);
              }, Math.random() * 10_000);
              ws.once('close', () => {
                clearTimeout(timer);
                clearInterval(timer);
                wsOpen--;
              });
              resolve();
            });
            ws.once('error', () => {
              wsFailed++;
              resolve();
            });
          }),
      ),
    );
  }
  console.log(`${wsOpen} WebSockets open${wsFailed ? `, ${wsFailed} failed to open` : ''}`);

  // Open-loop load: requests are started on schedule whether or not earlier ones finished.
  const pool = new Pool(base, { connections: CONNECTIONS, pipelining: 1 });
  const minutes: Minute[] = [];
  let current: Minute = { sent: 0, ok: 0, errors: 0, latencies: [] };
  const fire = () => {
    const m = current;
    m.sent++;
    const t0 = performance.now();
    pool.request({ path, method: 'GET', headers }).then(
      async (r) => {
        await r.body.dump();
        if (r.statusCode === 200) m.ok++;
        else m.errors++;
        m.latencies.push(performance.now() - t0);
      },
      () => {
        m.errors++;
      },
    );
  };
  // By elapsed time, not by tick count: timers drift, the rate must not.
  let owed = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const t = performance.now();
    owed += ((t - last) / 1000) * RATE;
    last = t;
    for (; owed >= 1; owed--) fire();
  }, 10);

  console.log('minute   requests   errors    p50 ms    p99 ms    RSS MB   heap MB    fds   websockets');
  const startedAt = performance.now();
  for (let i = 1; i <= MINUTES; i++) {
    await new Promise((r) => setTimeout(r, startedAt + i * 60_000 - performance.now()));
    const m = current;
    current = { sent: 0, ok: 0, errors: 0, latencies: [] };
    // Let the minute's last requests finish (bounded) before reading its numbers.
    await new Promise((r) => setTimeout(r, 200));
    minutes.push(m);
    const sorted = m.latencies.sort((a, b) => a - b);
    const s = processStats(gh.pid!);
    const heap = await heapMb(adminUrl);
    console.log(
      `${String(i).padStart(6)} ${String(m.sent).padStart(10)} ${String(m.errors).padStart(8)} ${percentile(sorted, 50).toFixed(2).padStart(9)} ${percentile(sorted, 99).toFixed(2).padStart(9)} ${s.rssMb.toFixed(1).padStart(9)} ${heap.toFixed(1).padStart(9)} ${String(s.fds).padStart(6)} ${String(wsOpen).padStart(12)}`,
    );
  }
  clearInterval(ticker);
  const total = minutes.reduce((a, m) => a + m.sent, 0);
  const errors = minutes.reduce((a, m) => a + m.errors, 0);
  console.log(`total ${total} requests, ${errors} errors, ${wsOpen} of ${WEBSOCKETS} WebSockets still open`);
  for (const ws of sockets) ws.terminate();
  await pool.close();
}

if (process.argv[2] === 'upstream') {
  upstream(Number(process.argv[3]));
} else {
  runBench(main);
}
