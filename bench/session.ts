// npm run bench:session — what a valid Redis-backed session costs per request: requests/s through
// Gatehouse on a public route without a cookie vs an authenticated route with a session cookie,
// same upstream, same bounded load. Starts its own redis-server on a free loopback port.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileConfig } from '../src/config/compile.ts';
import { silentLogger } from '../src/log.ts';
import { sessionsFromConfig } from '../src/session/create.ts';
import { fmt, freePort, has, load, NODE, start, waitForPort, runBench } from './lib.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const root = new URL('../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-session-'));
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';

async function main(): Promise<void> {
  if (!has('redis-server')) throw new Error('redis-server not found (apt-get install redis-server)');
  console.log(
    `Gatehouse session benchmark: ${CONNECTIONS} connections, ${SECONDS}s per row, ${cpus().length} CPUs, Node ${process.version}`,
  );
  const redisPort = await freePort();
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitForPort(redisPort);
  const upstreamPort = await freePort();
  start(NODE, [join(root, 'bench/upstream.ts'), String(upstreamPort)]);
  await waitForPort(upstreamPort);

  const ghPort = await freePort();
  const yaml = `log_level: warn
server: { listen: "127.0.0.1:${ghPort}", public_url: "http://127.0.0.1:${ghPort}" }
admin: { listen: "127.0.0.1:${await freePort()}" }
session:
  store: redis
  redis: { url: "redis://127.0.0.1:${redisPort}", key_prefix: "bench:" }
  secret: "${SECRET}"
  cookie: { secure: false }
routes:
  - { name: open, path: /open, upstream: "http://127.0.0.1:${upstreamPort}", allow: { public: true } }
  - { name: app, path: /, upstream: "http://127.0.0.1:${upstreamPort}", allow: { authenticated: true } }
`;
  writeFileSync(join(dir, 'gatehouse.yaml'), yaml);
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  start(NODE, [...prof, join(root, 'src/main.ts'), 'start', '--config', join(dir, 'gatehouse.yaml')]);
  await waitForPort(ghPort);

  // Make a session in the same Redis with the same secret, as a sign-in would.
  const { config } = compileConfig({
    server: { public_url: `http://127.0.0.1:${ghPort}` },
    session: {
      store: 'redis',
      redis: { url: `redis://127.0.0.1:${redisPort}`, key_prefix: 'bench:' },
      secret: SECRET,
      cookie: { secure: false },
    },
    routes: [{ name: 'x', upstream: 'http://127.0.0.1:1', allow: { public: true } }],
  });
  const sessions = sessionsFromConfig(config.session, silentLogger);
  await new Promise((r) => setTimeout(r, 200));
  const { cookieValue } = await sessions.create({ user: 'bench@corp.example', groups: ['ml'], idp: 'bench', method: 'bench' });
  await sessions.close();

  const run = (name: string, url: string, headers: Record<string, string> = {}) => {
    if (WARMUP > 0) load(url, CONNECTIONS, WARMUP, headers);
    const r = load(url, CONNECTIONS, SECONDS, headers);
    console.log(`${name.padEnd(30)} ${fmt(r)}   (${r.tool})`);
    return r;
  };
  const open = process.env.BENCH_ONLY_SESSION ? undefined : run('public route, no cookie', `http://127.0.0.1:${ghPort}/open/`);
  const authed = run('session route, valid cookie', `http://127.0.0.1:${ghPort}/app/`, { cookie: `gatehouse=${cookieValue}` });
  if (authed.errors > 0) console.log('warning: the session row had non-2xx answers: the session was not accepted');
  console.log('');
  if (open)
    console.log(
      `session / no-auth   ${(authed.rps / open.rps).toFixed(2)}x   (cost of cookie check + Redis-backed session lookup and renewal)`,
    );
}

runBench(main);
