// server.workers: a supervisor with worker processes sharing the listener; a crashed worker is
// replaced; SIGTERM drains all and exits 0; the memory store refuses several workers.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { getJson } from '../support/http.ts';
import { freePort } from '../support/ports.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream } from '../support/upstream.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

/** Child pids of `pid`, from /proc (field 4 of /proc/<pid>/stat is the parent pid). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // the process went away
    }
  }
  return out;
}

function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-workers-'));
  writeFileSync(join(dir, 'gatehouse.yaml'), text);
  return join(dir, 'gatehouse.yaml');
}

describe('workers', () => {
  it('serves from two workers, replaces a crashed one, and drains on SIGTERM', async () => {
    const up = await startUpstream();
    const port = await freePort();
    const file = writeConfig(`log_level: info
server: { listen: "127.0.0.1:${port}", public_url: "http://127.0.0.1:${port}", workers: 2 }
admin: { listen: "127.0.0.1:0" }
session: { store: redis, redis: { url: "${redisUrl()}", key_prefix: "${uniquePrefix()}" }, secret: "workers-test-secret-0123456789abcdefghij", cookie: { secure: false } }
audit: { sinks: [] }
routes: [ { name: app, upstream: "${up.url}", allow: { public: true } } ]
`);
    const child = spawn(NODE, [MAIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => { child.kill('SIGKILL'); });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    const listening = () => (out.match(/gatehouse listening/g) ?? []).length;
    await expect.poll(listening, { timeout: 15_000 }).toBe(2);
    for (let i = 0; i < 20; i++) expect((await getJson(`http://127.0.0.1:${port}/x${i}`)).status).toBe(200);

    const workers = childrenOf(child.pid!);
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, 'SIGKILL');
    await expect.poll(() => out.includes('worker exited; restarting it'), { timeout: 5000 }).toBe(true);
    await expect.poll(listening, { timeout: 15_000 }).toBe(3);
    expect((await getJson(`http://127.0.0.1:${port}/after`)).status).toBe(200);

    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses several workers with the memory store, naming the key', async () => {
    const file = writeConfig('server: { public_url: "https://ml.corp.example", workers: 4 }\nroutes: [ { name: a, upstream: "http://127.0.0.1:1", allow: { public: true } } ]\n');
    const r = spawn(NODE, [MAIN, 'check-config', '--config', file]);
    let out = '';
    r.stdout.on('data', (d) => (out += String(d)));
    const code = await new Promise((res) => r.on('exit', res));
    expect(code).toBe(1);
    expect(out).toContain('server.workers');
    expect(out).toContain('session.store: redis');
  });
});
