// Real Redis topologies for integration tests, on 127.0.0.1: a master watched by a Sentinel, and a
// three-master Redis Cluster. Every process runs from its own temp dir with no persistence, every
// wait is bounded, and everything is killed (and the dirs removed) when the test finishes. When a
// topology cannot be started the error says why, with the tail of the processes' own logs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { freePort } from './ports.ts';

/** Longest any single wait in here may take. */
const MAX_WAIT_MS = 15_000;
const NO_PERSISTENCE = ['--save', '', '--appendonly', 'no'];

export interface RedisProcess {
  readonly label: string;
  readonly port: number;
  readonly dir: string;
  /** The last few KiB the process printed (its log), for failure messages. */
  log(): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run redis-cli; resolves with its stdout (trimmed), rejects with a message naming the command. */
export function redisCli(args: readonly string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', ...args], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') reject(new Error('redis-cli not found on PATH (Debian/Ubuntu: apt-get install redis-tools)'));
        else
          reject(new Error(`redis-cli ${args.join(' ')} failed: ${e.message}${stderr ? `\n${stderr}` : ''}${stdout ? `\n${stdout}` : ''}`));
        return;
      }
      resolve(stdout.trim());
    });
  });
}

/** Poll `check` until it returns true; throw `what` (plus diagnostics) after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  diagnostics: () => string,
  timeoutMs = MAX_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + Math.min(timeoutMs, MAX_WAIT_MS);
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} (gave up after ${timeoutMs} ms)${last ? `\nlast error: ${last}` : ''}\n${diagnostics()}`);
    }
    await sleep(100);
  }
}

/** Kill `proc` (SIGKILL) and wait for it to exit, at most 5 s. */
function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGKILL');
  });
}

/**
 * Spawn `redis-server args` in `dir` and wait until it answers PING on `port`. Resolves
 * 'in-use' when it exits because the port was taken meanwhile (the caller retries on new ports).
 */
async function spawnRedis(
  label: string,
  port: number,
  args: readonly string[],
  dir: string,
  procs: ChildProcess[],
): Promise<RedisProcess | 'in-use'> {
  let output = '';
  const proc = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4096);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const node: RedisProcess = { label, port, dir, log: () => output };
  const diagnostics = () => `--- ${label} (port ${port}) log ---\n${output}`;

  const deadline = Date.now() + MAX_WAIT_MS;
  for (;;) {
    const outcome = await Promise.race([
      spawnError.then((err) => ({ kind: 'error' as const, err })),
      exited.then(() => ({ kind: 'exit' as const })),
      redisCli(['-p', String(port), 'ping'], 2000).then(
        (out) => ({ kind: 'ping' as const, out }),
        () => ({ kind: 'ping' as const, out: '' }),
      ),
    ]);
    if (outcome.kind === 'error') {
      const code = (outcome.err as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'ENOENT'
          ? 'redis-server not found on PATH (Debian/Ubuntu: apt-get install redis-server)'
          : `could not spawn redis-server for ${label}: ${outcome.err.message}`,
      );
    }
    if (outcome.kind === 'exit') {
      if (/address already in use/i.test(output)) return 'in-use';
      throw new Error(`${label}: redis-server exited at start (code ${proc.exitCode}, signal ${proc.signalCode})\n${diagnostics()}`);
    }
    if (outcome.out === 'PONG') return node;
    if (Date.now() > deadline) throw new Error(`${label}: redis-server did not answer PING within ${MAX_WAIT_MS} ms\n${diagnostics()}`);
    await sleep(50);
  }
}

/** Spawn with fresh free ports until one is not raced away by another process (3 tries). */
async function startNode(label: string, build: (port: number, extraPort: number, dir: string) => Promise<string[]>): Promise<RedisProcess> {
  const dir = await mkdtemp(join(tmpdir(), `gh-${label}-`));
  const procs: ChildProcess[] = [];
  // One clean-up per node, in order: the process first, then its directory.
  onTestFinished(async () => {
    await Promise.all(procs.map(kill));
    await rm(dir, { recursive: true, force: true });
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const extraPort = await freePort();
    const node = await spawnRedis(label, port, await build(port, extraPort, dir), dir, procs);
    if (node !== 'in-use') return node;
  }
  throw new Error(`${label}: could not find a free port for redis-server in 3 tries`);
}

function allLogs(nodes: readonly RedisProcess[]): string {
  return nodes.map((n) => `--- ${n.label} (port ${n.port}) log ---\n${n.log()}`).join('\n');
}

export interface SentinelTopology {
  readonly master: RedisProcess;
  readonly sentinel: RedisProcess;
  readonly masterName: string;
  /** "127.0.0.1:<port>" of the sentinel, as session.redis.sentinels wants it. */
  readonly sentinels: readonly string[];
}

/** A master and one Sentinel monitoring it as `mymaster`; ready when the Sentinel names the master. */
export async function startSentinelTopology(masterName = 'mymaster'): Promise<SentinelTopology> {
  await redisCli(['--version']);
  const master = await startNode('sentinel-master', async (port, _unused, dir) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    ...NO_PERSISTENCE,
  ]);
  const sentinel = await startNode('sentinel', async (port, _unused, dir) => {
    // Sentinel rewrites its config file at run time, so it lives in the sentinel's own temp dir.
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${masterName} 1000`,
        '',
      ].join('\n'),
    );
    return [conf, '--sentinel'];
  });
  const nodes = [master, sentinel];
  await waitUntil(
    `sentinel on ${sentinel.port} does not report ${masterName} at 127.0.0.1:${master.port}`,
    async () => {
      const addr = await redisCli(['-p', String(sentinel.port), 'sentinel', 'get-master-addr-by-name', masterName]);
      return (
        addr
          .split('\n')
          .map((l) => l.trim())
          .join(':') === `127.0.0.1:${master.port}`
      );
    },
    () => allLogs(nodes),
  );
  return { master, sentinel, masterName, sentinels: [`127.0.0.1:${sentinel.port}`] };
}

export interface ClusterTopology {
  readonly nodes: readonly RedisProcess[];
  /** "127.0.0.1:<port>" of every node, as session.redis.cluster wants them. */
  readonly seeds: readonly string[];
}

/** `count` cluster masters (no replicas) joined with `redis-cli --cluster create`; ready when every node says cluster_state:ok. */
export async function startClusterTopology(count = 3): Promise<ClusterTopology> {
  await redisCli(['--version']);
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < count; i++) {
    // The bus port gets a free port of its own: port + 10000 may not exist or be free.
    nodes.push(
      await startNode(`cluster-node-${i}`, async (port, busPort, dir) => [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        ...NO_PERSISTENCE,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
        '--cluster-port',
        String(busPort),
      ]),
    );
  }
  const seeds = nodes.map((n) => `127.0.0.1:${n.port}`);
  try {
    await redisCli(['--cluster', 'create', ...seeds, '--cluster-replicas', '0', '--cluster-yes'], MAX_WAIT_MS);
  } catch (err) {
    throw new Error(`redis-cli --cluster create failed: ${(err as Error).message}\n${allLogs(nodes)}`);
  }
  // ioredis may ask any node for the slot map: wait until all of them agree the cluster is up.
  await waitUntil(
    'the cluster never reached cluster_state:ok on every node',
    async () => {
      const infos = await Promise.all(nodes.map((n) => redisCli(['-p', String(n.port), 'cluster', 'info'])));
      return infos.every((info) => info.includes('cluster_state:ok'));
    },
    () => allLogs(nodes),
  );
  return { nodes, seeds };
}
