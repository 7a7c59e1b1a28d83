// A Gatehouse with everything on, as the peer benches run it (bench/compare.ts, side-by-side.ts):
// Redis sessions, an OIDC provider, a group policy on one route, identity headers and the signed
// assertion (defaults), and the audit trail to a file (or none, or in a worker thread).
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, NODE, start, waitForPort } from '../lib.ts';

export interface BenchGatehouse {
  /** Names its config file and audit directory under `dir`. */
  readonly name: string;
  readonly dir: string;
  readonly port: number;
  readonly idpIssuer: string;
  readonly upstreamPort: number;
  readonly redisPort: number;
  readonly keyPrefix: string;
  readonly secret: string;
  readonly workers?: number | 'auto' | undefined;
  /** false: no sink (what the audit costs); 'thread': audit.worker_thread: true. */
  readonly audit?: false | 'file' | 'thread' | undefined;
  /** Another checkout's Gatehouse (an A/B of two commits); default this one. */
  readonly checkout?: string | undefined;
  /** Node flags for this Gatehouse alone (BENCH_NODE_FLAGS, a profile). */
  readonly nodeFlags?: readonly string[] | undefined;
}

const ROOT = new URL('../../', import.meta.url).pathname;

/** Started in a process group of its own (lib.ts pause/resume, cpu.ts groupCpu); resolves once it listens. */
export async function startGatehouse(o: BenchGatehouse): Promise<ChildProcess> {
  const file = join(o.dir, `${o.name}.yaml`);
  const audit =
    o.audit === false
      ? 'audit: { sinks: [] }'
      : `audit:
  sinks: [ { type: file, path: "${join(o.dir, o.name, 'audit.ndjson')}", fsync: interval } ]
  spool_dir: "${join(o.dir, o.name, 'spool')}"${o.audit === 'thread' ? '\n  worker_thread: true' : ''}`;
  writeFileSync(
    file,
    `log_level: error
server: { listen: "127.0.0.1:${o.port}", public_url: "http://127.0.0.1:${o.port}"${o.workers === undefined ? '' : `, workers: ${o.workers}`} }
admin: { listen: "127.0.0.1:${await freePort()}" }
session:
  store: redis
  redis: { url: "redis://127.0.0.1:${o.redisPort}", key_prefix: "${o.keyPrefix}" }
  secret: "${o.secret}"
  cookie: { secure: false }
identity_providers:
  - { id: corp, type: oidc, issuer: "${o.idpIssuer}", client_id: bench-gatehouse, client_secret: bench-secret, scopes: [openid, email, profile, groups] }
${audit}
routes:
  - { name: app, upstream: "http://127.0.0.1:${o.upstreamPort}", allow: { groups: [ml-admins] } }
`,
  );
  const launcher = join(o.checkout ?? ROOT, 'src/cli/launcher.mjs');
  const child = start(NODE, [...(o.nodeFlags ?? []), launcher, 'start', '--config', file], {}, { group: true });
  // Workers each load the code: allow for a busy machine.
  try {
    await waitForPort(o.port, o.workers === undefined ? 60_000 : 120_000);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return child;
}

/** SIGTERM, then SIGKILL after 15 s; resolves when it exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
