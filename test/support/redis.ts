// Redis for tests: the run's private server (global setup) with a unique key prefix per test, and
// a way to start a dedicated, killable redis-server for outage tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort, waitForPort } from './ports.ts';
import { inject, onTestFinished } from 'vitest';
import { Redis } from 'ioredis';
import { Secret } from '../../src/config/secret.ts';
import type { RedisConfig } from '../../src/config/types.ts';

export function redisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix no other test uses. */
/** A standalone Redis config under `prefix` (the test Redis unless `url` is given). */
export function redisConfig(prefix: string, url = redisUrl()): RedisConfig {
  return {
    mode: 'standalone',
    url: new Secret(url),
    nodes: [],
    name: undefined,
    username: undefined,
    password: undefined,
    sentinelPassword: undefined,
    tls: false,
    db: undefined,
    keyPrefix: prefix,
    commandTimeoutMs: 2000,
  };
}

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
    await waitForPort(port, 5000, 'own redis-server not');
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
