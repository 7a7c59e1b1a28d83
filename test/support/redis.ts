// Redis for tests: the run's private server (global setup) with a unique key prefix per test, and
// a way to start a dedicated, killable redis-server for outage tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { inject, onTestFinished } from 'vitest';
import { Redis } from 'ioredis';

export function redisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix no other test uses. */
export function uniquePrefix(): string {
  return `gh-test:${randomUUID().slice(0, 8)}:`;
}

/** A plain ioredis client to inspect what Gatehouse wrote; closed after the test. */
export function inspector(url = redisUrl()): Redis {
  const r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  onTestFinished(() => {
    r.disconnect();
  });
  return r;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A redis-server of this test's own, on a fixed port, that the test can stop and start again. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const deadline = Date.now() + 5000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => { s.end(); resolve(true); });
        s.once('error', () => { s.destroy(); resolve(false); });
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error('own redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  onTestFinished(stop);
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
