// Gatehouse as a real child process for audit fault drills (`node src/main.ts start --config`):
// started from a YAML file, killed by signal, its output kept for diagnostics; plus a bounded load
// generator that records every request id it got back.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { listeningUrl, spawnGatehouse } from './child.ts';

export interface GatehouseChild {
  readonly proc: ChildProcess;
  readonly url: string;
  output(): string;
  /** Send `signal` and wait for the exit; resolves with the exit code or signal. */
  stop(signal: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

/** A config for one public route to `upstream` with `auditLines` (YAML, indented under audit:). */
export function writeAuditConfig(dir: string, upstream: string, auditLines: readonly string[]): string {
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(
    file,
    [
      'log_level: info',
      'server:',
      '  listen: "127.0.0.1:0"',
      '  public_url: "http://127.0.0.1:4180"',
      '  shutdown_timeout: "2s"',
      'admin:',
      '  listen: "127.0.0.1:0"',
      'audit:',
      ...auditLines.map((l) => `  ${l}`),
      'routes:',
      '  - name: app',
      `    upstream: "${upstream}"`,
      '    allow: { public: true }',
      '',
    ].join('\n'),
  );
  return file;
}

/** `gatehouse start --config file`; resolves once it logs "gatehouse listening" (support/child.ts bounds). */
export async function startGatehouseChild(configFile: string): Promise<GatehouseChild> {
  const child = spawnGatehouse(['start', '--config', configFile]);
  const url = listeningUrl(await child.waitFor(/"msg":"gatehouse listening"/, '"gatehouse listening"'));
  return {
    proc: child.proc,
    url,
    output: child.output,
    async stop(signal) {
      const exit = await child.stop(signal);
      return exit.code ?? exit.signal;
    },
  };
}

/**
 * GET requests, `concurrency` in flight, until `more(done)` says stop (checked before each one) or
 * `max` were sent; every answer must be 200. Fault drills hang their crashes on `done`. Returns the
 * request ids Gatehouse assigned, in completion order.
 */
export async function driveLoad(
  baseUrl: string,
  o: { concurrency: number; max: number; more: (done: number) => boolean },
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (next < o.max && o.more(ids.length)) {
      const i = next++;
      const r = await request(`${baseUrl}/load/${i}`);
      await r.body.dump();
      if (r.statusCode !== 200) failures.push(`/load/${i}: ${r.statusCode}`);
      ids.push(String(r.headers['x-request-id']));
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  if (failures.length > 0) throw new Error(`${failures.length} requests failed: ${failures.slice(0, 5).join(', ')}`);
  return ids;
}
