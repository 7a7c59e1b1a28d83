// npm run bench — requests/s and p50/p99 through: the tiny upstream directly, nginx as a plain
// reverse proxy (when installed; nothing is installed here), and Gatehouse on the same route; then
// what the audit trail costs with everything on (a private redis-server and the demo IdP: Redis
// sessions, a group policy, identity headers and the signed assertion), audit off vs audit to a
// file, the two rows alternated BENCH_AUDIT_ROUNDS times so a busy machine's drift hits both.
// Bounded: fixed connections and duration per row, loopback only. Tunables via env:
//   BENCH_CONNECTIONS (50), BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), NGINX_WORKERS (auto),
//   BENCH_AUDIT_ROUNDS (2), BENCH_ONLY_AUDIT=1 (the everything-on pair alone), BENCH_CPU_PROF=<dir> with BENCH_PROF_ROW=<row name> (a --cpu-prof of
//   that row's Gatehouse; "everything on, audit to file" / "everything on, audit off" for the pair)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoIdp } from '../src/demo/idp.ts';
import { TestBrowser } from '../test/support/browser-http.ts';
import { fmt, freePort, has, load, NODE, start, waitForPort, type LoadResult, runBench } from './lib.ts';
import { startGatehouse } from './lib/gatehouse.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const AUDIT_ROUNDS = Math.max(1, Math.min(10, Number(process.env.BENCH_AUDIT_ROUNDS ?? 2)));
const root = new URL('../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));

async function main(): Promise<void> {
  console.log(
    `Gatehouse proxy benchmark: ${CONNECTIONS} connections, ${SECONDS}s per row (+${WARMUP}s warm-up), ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  const upstreamPort = await freePort();
  start(NODE, [join(root, 'bench/upstream.ts'), String(upstreamPort)]);
  await waitForPort(upstreamPort);
  const rows: [string, LoadResult][] = [];
  const measure = (name: string, url: string, headers: Record<string, string> = {}) => {
    if (WARMUP > 0) load(url, CONNECTIONS, WARMUP, headers);
    const r = load(url, CONNECTIONS, SECONDS, headers);
    console.log(`${name.padEnd(36)} ${fmt(r)}   (${r.tool})`);
    if (r.errors > 0) console.log(`  warning: ${r.errors} non-2xx/socket errors in this row`);
    rows.push([name, r]);
    return r;
  };
  if (process.env.BENCH_ONLY_AUDIT) {
    await everythingOn(upstreamPort, measure);
    return;
  }

  const direct = measure('direct upstream', `http://127.0.0.1:${upstreamPort}/`);

  let nginx: LoadResult | undefined;
  if (has('nginx')) {
    const port = await freePort();
    const workers = process.env.NGINX_WORKERS ?? 'auto';
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes ${workers};
error_log ${dir}/nginx-error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`,
    );
    start('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
    await waitForPort(port);
    nginx = measure(`nginx (workers ${workers})`, `http://127.0.0.1:${port}/`);
  } else {
    console.log('nginx                  not installed (apt-get install nginx-light to add this row)');
  }

  // Gatehouse on the same route: the bare proxy path (no audit), then with the audit trail written
  // to a file, to show what the audit costs.
  const runGatehouse = async (name: string, audit: string) => {
    const ghPort = await freePort();
    const adminPort = await freePort();
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `log_level: warn
server: { listen: "127.0.0.1:${ghPort}", public_url: "http://127.0.0.1:${ghPort}" }
admin: { listen: "127.0.0.1:${adminPort}" }
session: { secret: "bench-secret-bench-secret-bench-secret-0123" }
audit: ${audit}
routes:
  - { name: bench, upstream: "http://127.0.0.1:${upstreamPort}", allow: { public: true } }
`,
    );
    const ghArgs =
      process.env.BENCH_CPU_PROF && name === (process.env.BENCH_PROF_ROW ?? 'gatehouse (no auth)')
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
        : [];
    const child = start(NODE, [...ghArgs, join(root, 'src/main.ts'), 'start', '--config', file]);
    await waitForPort(ghPort, 20_000);
    const r = measure(name, `http://127.0.0.1:${ghPort}/`);
    child.kill('SIGTERM');
    return r;
  };
  const gh = await runGatehouse('gatehouse (no auth)', '{ sinks: [] }');
  const ghAudit = await runGatehouse(
    'gatehouse (audit to file)',
    `{ sinks: [ { type: file, path: "${join(dir, 'audit.ndjson')}" } ], spool_dir: "${join(dir, 'spool')}" }`,
  );

  console.log('');
  console.log(`gatehouse / direct  ${(gh.rps / direct.rps).toFixed(2)}x`);
  if (nginx)
    console.log(`gatehouse / nginx   ${(gh.rps / nginx.rps).toFixed(2)}x   (target for the bare proxy path: >= 0.40x, p99 < 10 ms)`);
  console.log(`audit cost, bare route: ${((1 - ghAudit.rps / gh.rps) * 100).toFixed(1)} % of requests/s   (file sink on vs off)`);

  if (!has('redis-server')) {
    console.log('everything on                        redis-server not installed (apt-get install redis-server to add these rows)');
    return;
  }
  await everythingOn(upstreamPort, measure);
}

/**
 * Everything on (as bench/compare.ts's Gatehouse row), once with audit off and once with audit to a
 * file (fsync: interval, the default), both processes up at once and measured in turn.
 */
async function everythingOn(
  upstreamPort: number,
  measure: (name: string, url: string, headers?: Record<string, string>) => LoadResult,
): Promise<void> {
  const [redisPort, offPort, onPort] = await Promise.all([freePort(), freePort(), freePort()]);
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitForPort(redisPort);
  const base = (port: number) => `http://127.0.0.1:${port}`;
  const idp = await startDemoIdp({
    clients: [
      {
        client_id: 'bench-gatehouse',
        client_secret: 'bench-secret',
        redirect_uris: [offPort, onPort].map((p) => `${base(p)}/.gatehouse/oidc/corp/callback`),
      },
    ],
  });
  const OFF = 'everything on, audit off';
  const ON = 'everything on, audit to file';
  const startOne = async (name: string, port: number, audit: false | 'file') => {
    const prof =
      process.env.BENCH_CPU_PROF && name === process.env.BENCH_PROF_ROW
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
        : [];
    await startGatehouse({
      name: audit === false ? 'audit-off' : 'audit-on',
      dir,
      port,
      idpIssuer: idp.issuer,
      upstreamPort,
      redisPort,
      keyPrefix: `bench-${port}:`,
      secret: 'bench-secret-bench-secret-bench-secret-0123',
      audit,
      nodeFlags: prof,
    });
  };
  const signIn = async (port: number) => {
    const browser = new TestBrowser();
    const page = await browser.go(`${base(port)}/`, { username: 'alice', password: 'demo' });
    if (page.status !== 200) throw new Error(`sign-in through ${base(port)} ended with ${page.status}`);
    return browser.jar.header(base(port))!;
  };
  await startOne(OFF, offPort, false);
  await startOne(ON, onPort, 'file');
  const [offCookie, onCookie] = [await signIn(offPort), await signIn(onPort)];
  const ratios: number[] = [];
  for (let i = 0; i < AUDIT_ROUNDS; i++) {
    const off = measure(OFF, `${base(offPort)}/`, { cookie: offCookie });
    const on = measure(ON, `${base(onPort)}/`, { cookie: onCookie });
    ratios.push(on.rps / off.rps);
  }
  await idp.close();
  const cost = (r: number) => `${((1 - r) * 100).toFixed(1)} %`;
  console.log('');
  console.log(
    `audit cost: ${cost(median(ratios))} of requests/s   (everything on, audit to file vs off; median of ${ratios.length} alternated pairs: ${ratios.map(cost).join(', ')}; target <= 10 %)`,
  );
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

runBench(main);
