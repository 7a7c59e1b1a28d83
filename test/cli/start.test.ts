// `gatehouse start` as users run it: a child process reloading its config on SIGHUP and, with
// `watch: true`, when the file changes — alone and with worker processes (the supervisor passes
// SIGHUP on; only the first worker watches and the others follow it).
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHILD_TEST_TIMEOUT_MS, count, spawnGatehouse, type GatehouseProcess } from '../support/child.ts';
import { getJson } from '../support/http.ts';
import { freePort } from '../support/ports.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

interface Setup {
  readonly child: GatehouseProcess;
  readonly pid: number;
  readonly port: number;
  readonly a: TestUpstream;
  readonly b: TestUpstream;
  /** The config text with the app route pointing at `upstream`. */
  config(upstream: string): string;
  /** Replace the file the way editors and ConfigMaps do: write aside, then rename over. */
  replace(text: string): void;
  /** Wait until the child has logged `pattern` (global) at least `n` times in all. */
  logged(pattern: RegExp, n: number): Promise<string>;
  /** Wait until every worker has logged "config reloaded" more often than `before` says. */
  reloadedEach(before: readonly number[]): Promise<string>;
}

/** "config reloaded" lines per worker (index 0 is worker 1), from the workers' JSON log lines. */
function reloadsPerWorker(out: string, workers: number): number[] {
  const lines = out.split('\n').filter((l) => l.includes('"msg":"config reloaded"'));
  return Array.from({ length: workers }, (_, i) => lines.filter((l) => l.includes(`"worker":${i + 1},`)).length);
}

async function launch(opts: { watch: boolean; workers: number }): Promise<Setup> {
  const [a, b, port] = await Promise.all([startUpstream(), startUpstream(), freePort()]);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
  const file = join(dir, 'gatehouse.yaml');
  const store = opts.workers > 1 ? `store: redis, redis: { url: "${redisUrl()}", key_prefix: "${uniquePrefix()}" }, ` : '';
  const config = (upstream: string) => `log_level: info
watch: ${opts.watch}
server: { listen: "127.0.0.1:${port}", public_url: "http://127.0.0.1:${port}", workers: ${opts.workers} }
session: { ${store}secret: "start-test-secret-0123456789abcdefghijkl", cookie: { secure: false } }
audit: { sinks: [] }
routes: [ { name: app, upstream: "${upstream}", allow: { public: true } } ]
`;
  const replace = (text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  writeFileSync(file, config(a.url));
  const child = spawnGatehouse(['start', '--config', file]);
  const logged = (pattern: RegExp, n: number) => child.waitFor((out) => count(out, pattern) >= n, `${n} × ${pattern}`);
  await logged(/gatehouse listening/g, opts.workers);
  const reloadedEach = (before: readonly number[]) =>
    child.waitFor(
      (out) => reloadsPerWorker(out, opts.workers).every((n, i) => n > (before[i] ?? 0)),
      `"config reloaded" from each of ${opts.workers} workers`,
    );
  return { child, pid: child.pid, port, a, b, config, replace, logged, reloadedEach };
}

/** Reloads per worker once no new one has been logged for 1.5 s (at most 30 s). */
async function settledReloads(s: Setup, workers: number): Promise<number[]> {
  let last = reloadsPerWorker(s.child.output(), workers);
  let stableSince = Date.now();
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = reloadsPerWorker(s.child.output(), workers);
    if (now.some((n, i) => n !== last[i])) [last, stableSince] = [now, Date.now()];
    else if (Date.now() - stableSince >= 1500) return now;
  }
  throw new Error(`reloads never settled: ${JSON.stringify(last)}\n${s.child.output()}`);
}

/** Sends `n` requests and returns how many reached each upstream. */
async function spread(s: Setup, n: number): Promise<{ a: number; b: number }> {
  const [a0, b0] = [s.a.seen.length, s.b.seen.length];
  for (let i = 0; i < n; i++) expect((await getJson(`http://127.0.0.1:${s.port}/echo?i=${i}`)).status).toBe(200);
  return { a: s.a.seen.length - a0, b: s.b.seen.length - b0 };
}

describe('gatehouse start: reload', () => {
  it('reloads on SIGHUP, and keeps serving the old config when the new file is invalid', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const s = await launch({ watch: false, workers: 1 });
    expect(await spread(s, 3)).toEqual({ a: 3, b: 0 });

    s.replace(s.config(s.b.url));
    // Without watch, a changed file alone changes nothing.
    await new Promise((r) => setTimeout(r, 600));
    expect(await spread(s, 2)).toEqual({ a: 2, b: 0 });

    process.kill(s.pid, 'SIGHUP');
    await s.logged(/config reloaded/g, 1);
    expect(await spread(s, 3)).toEqual({ a: 0, b: 3 });

    s.replace(s.config(s.a.url).replace('allow: { public: true }', 'allow: { groups: nope }'));
    process.kill(s.pid, 'SIGHUP');
    await s.logged(/config reload failed/g, 1);
    expect(await spread(s, 3)).toEqual({ a: 0, b: 3 });
  });

  it('reloads when the file is replaced, with watch: true', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const s = await launch({ watch: true, workers: 1 });
    expect(await spread(s, 2)).toEqual({ a: 2, b: 0 });
    s.replace(s.config(s.b.url));
    await s.logged(/config reloaded/g, 1);
    expect(await spread(s, 3)).toEqual({ a: 0, b: 3 });
  });

  it('with workers, SIGHUP to the supervisor and a watched change both reach every worker', {
    timeout: CHILD_TEST_TIMEOUT_MS,
  }, async () => {
    const s = await launch({ watch: true, workers: 2 });
    expect((await spread(s, 4)).b).toBe(0);

    // The supervisor process gets the signal, as `kill -HUP <pid>` or systemd's ExecReload would.
    s.replace(s.config(s.b.url));
    process.kill(s.pid, 'SIGHUP');
    await s.reloadedEach([0, 0]);
    // Every new connection may land on either worker: none may still use the old upstream.
    expect(await spread(s, 20)).toEqual({ a: 0, b: 20 });

    // The file change above also reaches the watcher (debounced 300 ms): its reloads of the same
    // file may still be on their way. Count only once they have landed, or a late one would be
    // taken for the reload of the next change.
    const before = await settledReloads(s, 2);
    s.replace(s.config(s.a.url));
    await s.reloadedEach(before);
    expect(await spread(s, 20)).toEqual({ a: 20, b: 0 });
  });
});
