// server.workers: a supervisor with worker processes sharing the listener; a crashed worker is
// replaced; SIGTERM drains all and exits 0; the memory store refuses several workers.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHILD_TEST_TIMEOUT_MS, count, spawnGatehouse } from '../support/child.ts';
import { getJson } from '../support/http.ts';
import { freePort } from '../support/ports.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream } from '../support/upstream.ts';

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
  it('serves from two workers, replaces a crashed one, and drains on SIGTERM', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const up = await startUpstream();
    const port = await freePort();
    const file = writeConfig(`log_level: info
server: { listen: "127.0.0.1:${port}", public_url: "http://127.0.0.1:${port}", workers: 2 }
admin: { listen: "127.0.0.1:0" }
session: { store: redis, redis: { url: "${redisUrl()}", key_prefix: "${uniquePrefix()}" }, secret: "workers-test-secret-0123456789abcdefghij", cookie: { secure: false } }
audit: { sinks: [] }
routes: [ { name: app, upstream: "${up.url}", allow: { public: true } } ]
`);
    const child = spawnGatehouse(['start', '--config', file]);
    const listening = (n: number) => child.waitFor((out) => count(out, /gatehouse listening/g) >= n, `${n} × "gatehouse listening"`);
    await listening(2);
    for (let i = 0; i < 20; i++) expect((await getJson(`http://127.0.0.1:${port}/x${i}`)).status).toBe(200);

    const workers = childrenOf(child.pid);
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, 'SIGKILL');
    await child.waitFor(/worker exited; restarting it/, 'the supervisor restarting the killed worker');
    await listening(3);
    expect(count(child.output(), /gatehouse listening/g)).toBe(3);
    expect((await getJson(`http://127.0.0.1:${port}/after`)).status).toBe(200);

    expect((await child.stop('SIGTERM')).code).toBe(0);
  });

  it('refuses several workers with the memory store, naming the key', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const file = writeConfig(
      'server: { public_url: "https://ml.corp.example", workers: 4 }\nroutes: [ { name: a, upstream: "http://127.0.0.1:1", allow: { public: true } } ]\n',
    );
    const r = spawnGatehouse(['check-config', '--config', file]);
    expect((await r.exited()).code).toBe(1);
    expect(r.output()).toContain('server.workers');
    expect(r.output()).toContain('session.store: redis');
  });
});
