// A real nginx (Debian nginx-light) for tests, on a loopback port, from a config body placed inside
// its `http {}` block, with its own temp dirs. The caller stops it (its lifetime may span tests).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.ts';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);

export interface RunningNginx {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly dir: string;
  stop(): void;
}

/** `body(port)` is the inside of `http {}` (server blocks); `port` defaults to a free one. */
export async function startNginx(body: (port: number) => string, port?: number): Promise<RunningNginx> {
  if (!NGINX) throw new Error('nginx not found: apt-get install nginx-light');
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
  for (const d of ['body', 'proxy', 'fcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 256; }
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
${body(p)}
}`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nginx exited (${code}): ${stderr}`))));
  exited.catch(() => {}); // only awaited while starting
  await Promise.race([waitForPort(p, 15_000, 'nginx'), exited]);
  return {
    port: p,
    url: `http://127.0.0.1:${p}`,
    child,
    dir,
    stop: () => {
      child.kill('SIGTERM');
    },
  };
}
