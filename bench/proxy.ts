// npm run bench — requests/s and p50/p99 through: the tiny upstream directly, nginx as a plain
// reverse proxy (when installed; nothing is installed here), and Gatehouse on the same route.
// Bounded: fixed connections and duration per row, loopback only. Tunables via env:
//   BENCH_CONNECTIONS (50), BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), NGINX_WORKERS (auto)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, freePort, has, load, NODE, start, stopAll, waitForPort, type LoadResult } from './lib.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
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
  const measure = (name: string, url: string) => {
    if (WARMUP > 0) load(url, CONNECTIONS, WARMUP);
    const r = load(url, CONNECTIONS, SECONDS);
    console.log(`${name.padEnd(22)} ${fmt(r)}   (${r.tool})`);
    rows.push([name, r]);
    return r;
  };

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
    await waitForPort(ghPort);
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
  console.log(`audit cost          ${((1 - ghAudit.rps / gh.rps) * 100).toFixed(1)}% of requests/s   (file sink on vs off; target < 15%)`);
}

main().then(
  () => {
    stopAll();
    setTimeout(() => process.exit(0), 500);
  },
  (err: unknown) => {
    console.error(err);
    stopAll();
    process.exit(1);
  },
);
