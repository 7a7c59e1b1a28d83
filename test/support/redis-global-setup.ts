// Vitest global setup: give the test run its own Redis so tests never touch a developer's data.
// REDIS_URL set → use it. Otherwise start `redis-server` from PATH on a free loopback port with no
// persistence, and stop it when the run ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.end();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port} within the deadline`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
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
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
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
      throw new Error('redis-server not found on PATH. Install it (Debian/Ubuntu: apt-get install redis-server) or set REDIS_URL=redis://127.0.0.1:6379.');
    }
    try {
      await waitForPort(port, Date.now() + 5000);
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
