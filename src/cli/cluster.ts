// server.workers > 1: a supervisor process forks N workers that share the listeners (node:cluster
// round-robin), restarts a worker that dies (with backoff, so a crash loop cannot spin), and
// forwards SIGHUP (reload) and SIGTERM/SIGINT (drain and stop) to all of them. A reload asked of
// one worker (POST /admin/reload) is passed to the others through the supervisor.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log.ts';

export const WORKER_INDEX_ENV = 'GATEHOUSE_WORKER_INDEX';

type Message = { type: 'gatehouse:reload'; from?: number };

export function runSupervisor(workers: number, log: Logger): void {
  const byIndex = new Map<number, Worker>();
  const restarts = new Map<number, number[]>();
  let stopping = false;

  const fork = (index: number) => {
    const w = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    byIndex.set(index, w);
    // Sending to a worker that is going away fails; that is not the supervisor's death.
    w.on('error', (err) => log.warn({ worker: index, err: err.message }, 'worker channel error'));
    w.on('message', (m: Message) => {
      if (m?.type !== 'gatehouse:reload') return;
      for (const [i, other] of byIndex) if (i !== index) other.send({ type: 'gatehouse:reload', from: index } satisfies Message);
    });
    w.on('exit', (code, signal) => {
      if (byIndex.get(index) === w) byIndex.delete(index);
      if (stopping) {
        if (byIndex.size === 0) process.exit(0);
        return;
      }
      // At most 5 restarts a minute per worker slot; then wait a minute.
      const now = Date.now();
      const recent = (restarts.get(index) ?? []).filter((t) => now - t < 60_000);
      recent.push(now);
      restarts.set(index, recent);
      const delay = recent.length > 5 ? 60_000 : 200 * recent.length;
      log.error({ worker: index, code, signal, restart_in_ms: delay }, 'worker exited; restarting it');
      // Not unref'd: the supervisor must stay alive to restart workers, even when none is running.
      setTimeout(() => {
        if (!stopping) fork(index);
      }, delay);
    });
  };

  for (let i = 1; i <= workers; i++) fork(i);
  log.info({ workers }, 'supervisor started workers');

  process.on('SIGHUP', () => {
    for (const w of byIndex.values()) w.process.kill('SIGHUP');
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'supervisor stopping workers');
    for (const w of byIndex.values()) w.process.kill('SIGTERM');
    if (byIndex.size === 0) process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** In a worker: tell the supervisor this worker reloaded, so the others do too. */
export function announceReload(): void {
  if (cluster.isWorker && process.send) process.send({ type: 'gatehouse:reload' } satisfies Message);
}

/** In a worker: run `reload` when another worker reloaded. */
export function onPeerReload(reload: () => void): void {
  if (!cluster.isWorker) return;
  process.on('message', (m: Message) => {
    if (m?.type === 'gatehouse:reload') reload();
  });
}

/** 1-based worker slot, or undefined outside a worker. */
export function workerIndex(): number | undefined {
  const v = process.env[WORKER_INDEX_ENV];
  return cluster.isWorker && v ? Number(v) : undefined;
}
