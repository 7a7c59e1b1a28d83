// `gatehouse start` as users run it: a child process reloading its config on SIGHUP and, with
// `watch: true`, when the file changes — alone and with worker processes (the supervisor passes
// SIGHUP on; only the first worker watches and the others follow it).
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { getJson } from '../support/http.ts';
import { freePort } from '../support/ports.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

interface Setup {
  readonly pid: number;
  readonly port: number;
  readonly a: TestUpstream;
  readonly b: TestUpstream;
  /** The config text with the app route pointing at `upstream`. */
  config(upstream: string): string;
  /** Replace the file the way editors and ConfigMaps do: write aside, then rename over. */
  replace(text: string): void;
  log(): string;
}

async function launch(opts: { watch: boolean; workers: number }): Promise<Setup> {
  const [a, b, port] = await Promise.all([startUpstream(), startUpstream(), freePort()]);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
  const file = join(dir, 'gatehouse.yaml');
  const store = opts.workers > 1
    ? `store: redis, redis: { url: "${redisUrl()}", key_prefix: "${uniquePrefix()}" }, `
    : '';
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
  const child = spawn(NODE, [MAIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => { child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  await expect.poll(() => (out.match(/gatehouse listening/g) ?? []).length, { timeout: 15_000 }).toBe(opts.workers);
  return { pid: child.pid!, port, a, b, config, replace, log: () => out };
}

/** Sends `n` requests and returns how many reached each upstream. */
async function spread(s: Setup, n: number): Promise<{ a: number; b: number }> {
  const [a0, b0] = [s.a.seen.length, s.b.seen.length];
  for (let i = 0; i < n; i++) expect((await getJson(`http://127.0.0.1:${s.port}/echo?i=${i}`)).status).toBe(200);
  return { a: s.a.seen.length - a0, b: s.b.seen.length - b0 };
}

describe('gatehouse start: reload', () => {
  it('reloads on SIGHUP, and keeps serving the old config when the new file is invalid', async () => {
    const s = await launch({ watch: false, workers: 1 });
    expect(await spread(s, 3)).toEqual({ a: 3, b: 0 });

    s.replace(s.config(s.b.url));
    // Without watch, a changed file alone changes nothing.
    await new Promise((r) => setTimeout(r, 600));
    expect(await spread(s, 2)).toEqual({ a: 2, b: 0 });

    process.kill(s.pid, 'SIGHUP');
    await expect.poll(() => s.log().includes('config reloaded'), { timeout: 10_000 }).toBe(true);
    expect(await spread(s, 3)).toEqual({ a: 0, b: 3 });

    s.replace(s.config(s.a.url).replace('allow: { public: true }', 'allow: { groups: nope }'));
    process.kill(s.pid, 'SIGHUP');
    await expect.poll(() => s.log().includes('config reload failed'), { timeout: 10_000 }).toBe(true);
    expect(await spread(s, 3)).toEqual({ a: 0, b: 3 });
  });

  it('reloads when the file is replaced, with watch: true', async () => {
    const s = await launch({ watch: true, workers: 1 });
    expect(await spread(s, 2)).toEqual({ a: 2, b: 0 });
    s.replace(s.config(s.b.url));
    await expect.poll(async () => (await spread(s, 1)).b, { timeout: 10_000, interval: 200 }).toBe(1);
    expect(await spread(s, 3)).toEqual({ a: 0, b: 3 });
  });

  it('with workers, SIGHUP to the supervisor and a watched change both reach every worker', async () => {
    const s = await launch({ watch: true, workers: 2 });
    expect((await spread(s, 4)).b).toBe(0);

    // The supervisor process gets the signal, as `kill -HUP <pid>` or systemd's ExecReload would.
    s.replace(s.config(s.b.url));
    process.kill(s.pid, 'SIGHUP');
    await expect.poll(() => (s.log().match(/config reloaded/g) ?? []).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    // Every new connection may land on either worker: none may still use the old upstream.
    expect(await spread(s, 20)).toEqual({ a: 0, b: 20 });

    const before = (s.log().match(/config reloaded/g) ?? []).length;
    s.replace(s.config(s.a.url));
    await expect.poll(() => (s.log().match(/config reloaded/g) ?? []).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 2);
    expect(await spread(s, 20)).toEqual({ a: 20, b: 0 });
  });
});
