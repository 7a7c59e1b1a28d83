// Vitest global setup: give the test run its own Redis so tests never touch a developer's data.
// REDIS_URL set → use it. Otherwise start `redis-server` from PATH on a free loopback port with no
// persistence, and stop it when the run ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitForPort } from './ports.ts';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let child: ChildProcess | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return;
  }
  // The port is picked then handed to redis-server; a retry covers the rare race with another process.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
      { stdio: 'ignore' },
    );
    const spawned = await new Promise<boolean>((resolve) => {
      proc.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          resolve(false);
          return;
        }
        resolve(false);
      });
      proc.once('spawn', () => resolve(true));
    });
    if (!spawned) {
      throw new Error(
        'redis-server not found on PATH. Install it (Debian/Ubuntu: apt-get install redis-server) or set REDIS_URL=redis://127.0.0.1:6379.',
      );
    }
    try {
      await waitForPort(port, 5000, 'redis-server not');
      child = proc;
      project.provide('redisUrl', `redis://127.0.0.1:${port}`);
      return;
    } catch {
      proc.kill('SIGKILL');
    }
  }
  throw new Error('could not start a private redis-server');
}

export async function teardown(): Promise<void> {
  if (!child) return;
  const proc = child;
  child = undefined;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
  });
}
