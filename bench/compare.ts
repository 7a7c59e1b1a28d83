// npm run bench:compare — the peer benchmark (issue 18), loopback only. Starts a tiny upstream, a
// private redis-server and the demo OpenID provider, then every system below, each signed in once,
// and measures them with the same bounded load (BENCH_CONNECTIONS, BENCH_SECONDS) in BENCH_ROUNDS
// rounds (default 3), the rows alternated, reporting each row's median run:
//   direct                  the upstream alone: the ceiling
//   nginx                   nginx as a plain reverse proxy: the floor any proxy can reach
//   node-floor              node:http + undici and nothing else (bench/node-floor.ts): what Node,
//                           undici and the kernel cost any Node proxy here, before Gatehouse's work
//   gatehouse               everything on: Redis sessions, a group policy, identity headers +
//                           signed assertion, audit to a file; one session
//   gatehouse-10k           the same config, 10,000 distinct sessions round-robin (wrk + Lua)
//   gatehouse-no-audit      the same config without the audit sink (what the audit costs)
//   gatehouse-audit-thread  the same config with audit.worker_thread: true (what the thread buys)
//   gatehouse-workers       everything on with `workers: auto` (one process per CPU but one)
//   gatehouse-workers-2     everything on with two worker processes, whatever the CPUs
//   apache-shm              Apache + mod_auth_openidc, shared-memory cache, a valid session
//   apache-redis            the same with its Redis cache (what a multi-replica set-up needs)
// then the ratios the issue sets as targets, each with PASS or MISS (of the medians' ratio) and
// the median of the rounds' own ratios beside it ("rounds paired"), Redis commands per proxied
// request (INFO commandstats delta / requests) for every Gatehouse and Apache row, each system's
// CPU per request by thread and the machine's busy and steal shares (bench/lib/cpu.ts), a JSON file of
// the run (every round's figures too) and an SVG chart (requests/s and p99 per system;
// docs/bench-compare.{json,svg} unless BENCH_OUT_DIR says otherwise). Alternating rounds matter on
// a shared VM, whose speed drifts by up to 2x within minutes: a drift then moves every row alike;
// each round runs the rows in another order, so no row always runs right after the same one, and
// the Node rows' processes are started afresh every round (BENCH_RESTART=0 keeps them; a profile
// does), so no row keeps one process's luck with the scheduler for the whole run.
// BENCH_ROWS=gatehouse,nginx runs some rows only (then nothing is written unless BENCH_OUT_DIR is
// set); BENCH_CPU_PROF=<dir> profiles the one-process Gatehouse rows (node --cpu-prof, over all
// rounds) and writes each one's flame graph (<dir>/<row>.svg, bench/lib/flame.ts). nginx, Apache
// and wrk are used when installed; nothing is installed here.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem, tmpdir } from 'node:os';
import { autoWorkers } from '../src/config/compile.ts';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startDemoIdp } from '../src/demo/idp.ts';
import { TestBrowser } from '../test/support/browser-http.ts';
import { fmt, freePort, has, load, NODE, pause, resume, start, waitForPort, type LoadResult, runBench } from './lib.ts';
import { createSessions, redisCommandCount } from './lib/many-sessions.ts';
import { compareSvg } from './lib/chart.ts';
import { writeFlameGraph } from './lib/flame.ts';
import { printSummary } from './lib/profile.ts';
import { cpuDelta, groupCpu, machineCpu, type CpuDelta } from './lib/cpu.ts';
import { startGatehouse, stopChild as stop } from './lib/gatehouse.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10_000);
const ROUNDS = Math.max(1, Math.min(9, Number(process.env.BENCH_ROUNDS ?? 3)));
const ONLY = process.env.BENCH_ROWS ? new Set(process.env.BENCH_ROWS.split(',').map((s) => s.trim())) : undefined;
const root = new URL('../', import.meta.url).pathname;
const OUT_DIR = process.env.BENCH_OUT_DIR ?? (ONLY ? undefined : join(root, 'docs'));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-compare-'));
const ALICE = { username: 'alice', password: 'demo' };
const APACHE = '/usr/sbin/apache2';
const OPENIDC = '/usr/lib/apache2/modules/mod_auth_openidc.so';
const SECRET = 'compare-bench-session-secret-0123456789abcdef';
const KEY_PREFIX = 'compare:';
/** The session cookie's name with cookie.secure: false (dev mode drops the __Host- prefix). */
const GH_COOKIE = 'gatehouse';

export interface Row {
  readonly id: string;
  readonly name: string;
  readonly result: LoadResult;
  /** Redis commands per request during the measured run (rows that use Redis). */
  readonly redisPerRequest?: number | undefined;
  /** Requests sent to warm up before it. */
  readonly warm: number;
  /** CPU per request of the system's own processes (bench/lib/cpu.ts), and of the machine meanwhile. */
  readonly cpu?: CpuDelta | undefined;
}

const rows: Row[] = [];
/**
 * Each row's requests/s by round. A ratio of two medians can pair a fast round of one row with a
 * slow round of the other (this VM's speed drifts within minutes); the median of the rounds' own
 * ratios compares rows measured minutes apart at most, and is printed beside it.
 */
const rpsByRound = new Map<string, Map<number, number>>();
/** Requests each profiled Gatehouse served (a profile's µs per request). */
const served = new Map<string, number>();
const wanted = (id: string) => !ONLY || ONLY.has(id);

interface Measure {
  headers?: Record<string, string>;
  cookieFile?: string;
  redisUrl?: string;
  /** Warm up until at least this many requests were sent (a list of sessions, each used once). */
  warmRequests?: number;
  /** The system's process group, for its CPU per request (bench/lib/cpu.ts). */
  pgid?: number | undefined;
}

async function measure(id: string, name: string, url: string, m: Measure = {}): Promise<Row> {
  const opts = m.cookieFile ? { cookieFile: m.cookieFile } : {};
  let warm = 0;
  if (WARMUP > 0) {
    // Steady state: warm up until every session in the list was used once (bounded).
    for (let i = 0; i < 20 && (i === 0 || warm < (m.warmRequests ?? 0)); i++)
      warm += load(url, CONNECTIONS, WARMUP, m.headers, opts).requests;
    if (m.warmRequests)
      console.log(`  (warm-up: ${warm} requests, so each of the ${m.warmRequests} sessions was used before the measured run)`);
  }
  const before = m.redisUrl ? await redisCommandCount(m.redisUrl) : 0;
  const beforeBy = m.redisUrl ? await redisCommandsBy(m.redisUrl) : undefined;
  const cpuBefore = m.pgid === undefined ? undefined : { g: groupCpu(m.pgid), m: machineCpu() };
  const result = load(url, CONNECTIONS, SECONDS, m.headers, opts);
  const cpu =
    cpuBefore && m.pgid !== undefined ? cpuDelta(cpuBefore, { g: groupCpu(m.pgid), m: machineCpu() }, result.requests) : undefined;
  // The count itself is one command (INFO), taken off.
  const redisPerRequest = m.redisUrl ? (await redisCommandCount(m.redisUrl)) - before - 1 : undefined;
  const row: Row = {
    id,
    name,
    result,
    redisPerRequest: redisPerRequest === undefined ? undefined : redisPerRequest / Math.max(1, result.requests),
    warm,
    cpu,
  };
  let redis = row.redisPerRequest === undefined ? '' : `   redis ${row.redisPerRequest.toFixed(3)}/req`;
  if (m.redisUrl && beforeBy && row.redisPerRequest !== undefined && row.redisPerRequest >= 0.01) {
    // Which commands, when there are enough to matter.
    const after = await redisCommandsBy(m.redisUrl);
    const per = [...after]
      .map(([c, n]) => [c, (n - (beforeBy.get(c) ?? 0)) / Math.max(1, result.requests)] as const)
      .filter(([, n]) => n >= 0.005)
      .sort((a, b) => b[1] - a[1]);
    redis += ` (${per.map(([c, n]) => `${c} ${n.toFixed(3)}`).join(', ')})`;
  }
  console.log(`${name.padEnd(44)} ${fmt(result)}${redis}   (${result.tool})`);
  if (cpu)
    console.log(
      `  cpu ${cpu.usPerRequest.toFixed(1)} µs/req (${cpu.threads
        .slice(0, 5)
        .map((t) => `${t.name} ${t.usPerRequest.toFixed(1)}`)
        .join(', ')}); machine busy ${(cpu.machineBusy * 100).toFixed(0)} %, steal ${(cpu.machineSteal * 100).toFixed(1)} %`,
    );
  if (result.errors > 0) console.log(`  warning: ${result.errors} non-2xx/socket errors in this row`);
  return row;
}

async function gatehouse(
  name: string,
  port: number,
  idpIssuer: string,
  upstreamPort: number,
  redisPort: number,
  o: { workers?: number | 'auto'; audit?: false | 'thread' },
): Promise<ChildProcess> {
  const prof =
    process.env.BENCH_CPU_PROF && o.workers === undefined
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=${name}.cpuprofile`]
      : [];
  // BENCH_NODE_FLAGS: V8/Node flags for Gatehouse alone (A/B experiments), e.g. --max-semi-space-size=32.
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return startGatehouse({
    name,
    dir,
    port,
    idpIssuer,
    upstreamPort,
    redisPort,
    keyPrefix: KEY_PREFIX,
    secret: SECRET,
    workers: o.workers,
    audit: o.audit,
    nodeFlags: [...flags, ...prof],
  });
}

/** Sign in through `url`; returns the one cookie (`name=value`) the proxy's session is in. */
/** Calls per Redis command so far (INFO commandstats). */
async function redisCommandsBy(redisUrl: string): Promise<Map<string, number>> {
  const { Redis } = await import('ioredis');
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info('commandstats');
    return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
  } finally {
    client.disconnect();
  }
}

/** One row (or two on one process): a failure is reported and the run goes on to the next. */
async function section(id: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    console.log(`${id.padEnd(44)} failed: ${(err as Error).message}`);
    failed.push(id);
  }
}
const failed: string[] = [];

/** With BENCH_CPU_PROF: the stopped process's profile, by stage (bench/lib/profile.ts), and its flame graph next to it. */
function profileSummary(name: string): void {
  const file = process.env.BENCH_CPU_PROF && join(process.env.BENCH_CPU_PROF, `${name}.cpuprofile`);
  if (!file || !existsSync(file)) return;
  printSummary(file, served.get(name) ?? 0);
  const svg = join(process.env.BENCH_CPU_PROF!, `${name}.svg`);
  writeFlameGraph(
    file,
    served.get(name) ?? 0,
    svg,
    `${name}: node --cpu-prof of its main thread, ${new Date().toISOString().slice(0, 16)}Z, ${CONNECTIONS} connections`,
  );
  console.log(`flame graph: ${svg}`);
}

async function signIn(url: string, cookieName: string): Promise<string> {
  const browser = new TestBrowser();
  const page = await browser.go(`${url}/`, ALICE);
  if (page.status !== 200) throw new Error(`sign-in through ${url} ended with ${page.status}`);
  // The jar also holds the IdP's cookies (cookies do not tell ports apart): send the proxy's only.
  const pair = browser.jar
    .header(url)!
    .split(/;\s*/)
    .find((p) => p.startsWith(`${cookieName}=`));
  if (!pair) throw new Error(`no ${cookieName} cookie after signing in through ${url}`);
  return pair;
}

function apacheConfig(adir: string, port: number, issuer: string, upstreamPort: number, cache: string): string {
  const mods = '/usr/lib/apache2/modules';
  return `ServerRoot "${adir}"
ServerName localhost
Listen 127.0.0.1:${port}
PidFile ${adir}/httpd.pid
ErrorLog ${adir}/error.log
LogLevel warn
LoadModule mpm_event_module ${mods}/mod_mpm_event.so
LoadModule authz_core_module ${mods}/mod_authz_core.so
LoadModule authn_core_module ${mods}/mod_authn_core.so
LoadModule authz_user_module ${mods}/mod_authz_user.so
LoadModule proxy_module ${mods}/mod_proxy.so
LoadModule proxy_http_module ${mods}/mod_proxy_http.so
LoadModule auth_openidc_module ${OPENIDC}
User daemon
Group daemon
StartServers 2
ThreadsPerChild 64
MaxRequestWorkers 256
KeepAlive On
MaxKeepAliveRequests 0
OIDCProviderMetadataURL ${issuer}/.well-known/openid-configuration
OIDCClientID bench-apache
OIDCClientSecret bench-secret
OIDCRedirectURI http://127.0.0.1:${port}/redirect_uri
OIDCCryptoPassphrase compare-bench-passphrase-0123456789
OIDCScope "openid email profile groups"
OIDCPKCEMethod S256
${cache}
OIDCSessionInactivityTimeout 1800
OIDCClaimPrefix OIDC_CLAIM_
<Location />
  AuthType openid-connect
  Require valid-user
</Location>
ProxyPass /redirect_uri !
ProxyPass / http://127.0.0.1:${upstreamPort}/ keepalive=On
`;
}

/** A system under test, started once; `measure` is one warm-up + measured run of its row. */
interface System {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly m: Measure;
  /** The Gatehouse process to profile with BENCH_CPU_PROF, by its file name. */
  readonly profile?: string | undefined;
  /** Its process, paused (SIGSTOP) while other rows run, so an idle system's timers cost them nothing. */
  readonly proc?: Proc | undefined;
}

interface Proc {
  child: ChildProcess;
  /**
   * Starts the process again: the Node rows are restarted every round (not with BENCH_CPU_PROF),
   * because a process keeps whatever the scheduler gave its threads for life — two processes of
   * one config, started once, ran 20-30 % apart for a whole run.
   */
  readonly restart?: (() => Promise<ChildProcess>) | undefined;
}

const RESTART = !process.env.BENCH_CPU_PROF && process.env.BENCH_RESTART !== '0';

/** `rows` in round `round`'s order: as written in round 1, then a shuffle seeded by the round (the same every run). */
function roundOrder<T>(rows: readonly T[], round: number): T[] {
  const out = [...rows];
  let seed = round * 2654435761;
  const next = () => {
    // xorshift32: enough to shuffle a dozen rows, and repeatable.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  if (round > 1)
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
  return out;
}

async function main(): Promise<void> {
  const cpu = cpus();
  const machine = {
    cpus: cpu.length,
    model: cpu[0]?.model ?? '?',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    connections: CONNECTIONS,
    seconds: SECONDS,
    warmupSeconds: WARMUP,
    sessions: SESSIONS,
    rounds: ROUNDS,
  };
  console.log(
    `Gatehouse peer benchmark: ${CONNECTIONS} connections, ${SECONDS}s per row (+${WARMUP}s warm-up), ${ROUNDS} round(s) with the rows alternated${RESTART ? ' and the Node rows restarted each round' : ''}, median per row; ${machine.cpus} CPUs (${machine.model}), Node ${machine.node}`,
  );
  if (!has('redis-server')) throw new Error('redis-server not found (apt-get install redis-server)');
  const [
    upstreamPort,
    redisPort,
    ghPort,
    ghManyPort,
    ghNoAuditPort,
    ghWorkersPort,
    ghTwoPort,
    apachePort,
    apacheRedisPort,
    nginxPort,
    floorPort,
    ghThreadPort,
  ] = await Promise.all(Array.from({ length: 12 }, () => freePort()));
  start(NODE, [join(root, 'bench/upstream.ts'), String(upstreamPort)]);
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await Promise.all([waitForPort(upstreamPort), waitForPort(redisPort)]);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const base = (port: number) => `http://127.0.0.1:${port}`;
  const ghCallbacks = [ghPort, ghManyPort, ghNoAuditPort, ghWorkersPort, ghTwoPort, ghThreadPort].map(
    (p) => `${base(p)}/.gatehouse/oidc/corp/callback`,
  );
  const idp = await startDemoIdp({
    clients: [
      { client_id: 'bench-gatehouse', client_secret: 'bench-secret', redirect_uris: ghCallbacks },
      {
        client_id: 'bench-apache',
        client_secret: 'bench-secret',
        redirect_uris: [`${base(apachePort)}/redirect_uri`, `${base(apacheRedisPort)}/redirect_uri`],
      },
    ],
  });

  // Every system starts (and signs in) once; the rows then alternate round after round, so a
  // machine whose speed drifts (a shared VM's does, by up to 2x in minutes) moves every row alike.
  const systems: System[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  /**
   * A process the rounds restart: the row's `proc` holds the one running, and the stopper stops
   * whichever that is at the end.
   */
  const restartable = (first: ChildProcess, restart: () => Promise<ChildProcess>): { proc: Proc } => {
    const proc: Proc = { child: first, restart };
    stoppers.push(() => stop(proc.child));
    return { proc };
  };
  const cookieFileFor = (name: string, cookie: string) => {
    const file = join(dir, `${name}-cookie.txt`);
    writeFileSync(file, `${cookie}\n`);
    return file;
  };

  if (wanted('direct')) systems.push({ id: 'direct', name: 'direct upstream', url: `${base(upstreamPort)}/`, m: {} });

  if (wanted('nginx')) {
    if (has('nginx') || existsSync('/usr/sbin/nginx')) {
      const ndir = join(dir, 'nginx');
      mkdirSync(ndir);
      writeFileSync(
        join(ndir, 'nginx.conf'),
        `worker_processes auto; pid ${ndir}/nginx.pid; error_log ${ndir}/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${ndir}/b; proxy_temp_path ${ndir}/p; fastcgi_temp_path ${ndir}/f; uwsgi_temp_path ${ndir}/u; scgi_temp_path ${ndir}/s;
  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr; } } }`,
      );
      const nginx = start(
        existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx',
        ['-p', ndir, '-c', join(ndir, 'nginx.conf'), '-g', 'daemon off;'],
        {},
        { group: true },
      );
      await waitForPort(nginxPort);
      stoppers.push(() => stop(nginx));
      systems.push({ id: 'nginx', name: 'nginx (plain proxy, workers auto)', url: `${base(nginxPort)}/`, m: {}, proc: { child: nginx } });
    } else {
      console.log('nginx                                        not installed (apt-get install nginx-light to add this row)');
    }
  }

  if (wanted('node-floor')) {
    const startFloor = async () => {
      const floor = start(NODE, [join(root, 'bench/node-floor.ts'), String(floorPort), String(upstreamPort)], {}, { group: true });
      await waitForPort(floorPort);
      return floor;
    };
    systems.push({
      id: 'node-floor',
      name: 'Node floor (node:http + undici, nothing else)',
      url: `${base(floorPort)}/`,
      m: {},
      ...restartable(await startFloor(), startFloor),
    });
  }

  // Everything on, one process, one session.
  if (wanted('gatehouse'))
    await section('gatehouse', async () => {
      const startIt = () => gatehouse('gatehouse', ghPort, idp.issuer, upstreamPort, redisPort, {});
      const sys = restartable(await startIt(), startIt);
      // The session lives in Redis: it outlives the process.
      const cookieFile = cookieFileFor('gatehouse', await signIn(base(ghPort), GH_COOKIE));
      systems.push({
        id: 'gatehouse',
        name: 'Gatehouse, everything on (1 session)',
        url: `${base(ghPort)}/`,
        m: { cookieFile, redisUrl },
        profile: 'gatehouse',
        ...sys,
      });
    });

  // The same config, 10,000 sessions round-robin, on a process of its own: the rows alternate, and
  // 10,000 cached sessions in the heap must not weigh on the one-session row's process.
  if (wanted('gatehouse-10k'))
    await section('gatehouse-10k', async () => {
      const startIt = () => gatehouse('gatehouse-10k', ghManyPort, idp.issuer, upstreamPort, redisPort, {});
      const sys = restartable(await startIt(), startIt);
      const t0 = performance.now();
      // Distinct users in the group the route allows, from the route's IdP, as a sign-in makes them.
      const values = await createSessions({
        redisUrl,
        keyPrefix: KEY_PREFIX,
        secret: SECRET,
        count: SESSIONS,
        idp: 'corp',
        cookieName: GH_COOKIE,
        user: (i) => ({
          user: `user${i}@example.com`,
          email: `user${i}@example.com`,
          name: `User ${i}`,
          groups: ['ml-admins', 'data-scientists'],
        }),
      });
      const many = join(dir, 'many-cookies.txt');
      writeFileSync(many, `${values.join('\n')}\n`);
      console.log(`  (${values.length} sessions made in Redis in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      // The same wrk script drives the one-session row, so the load generator's own cost is the same.
      systems.push({
        id: 'gatehouse-10k',
        name: `Gatehouse, everything on, ${SESSIONS.toLocaleString('en')} sessions`,
        url: `${base(ghManyPort)}/`,
        m: { cookieFile: many, redisUrl, warmRequests: values.length },
        profile: 'gatehouse-10k',
        ...sys,
      });
    });

  const variants: [string, string, number, { workers?: number | 'auto'; audit?: false | 'thread' }][] = [
    ['gatehouse-no-audit', 'Gatehouse, everything on but audit', ghNoAuditPort, { audit: false }],
    ['gatehouse-audit-thread', 'Gatehouse, everything on, audit in a worker thread', ghThreadPort, { audit: 'thread' }],
    ['gatehouse-workers', 'Gatehouse, everything on, workers: auto', ghWorkersPort, { workers: 'auto' }],
    ['gatehouse-workers-2', 'Gatehouse, everything on, workers: 2', ghTwoPort, { workers: 2 }],
  ];
  for (const [id, name, port, o] of variants) {
    if (!wanted(id)) continue;
    await section(id, async () => {
      const startIt = () => gatehouse(id, port, idp.issuer, upstreamPort, redisPort, o);
      const sys = restartable(await startIt(), startIt);
      const cookieFile = cookieFileFor(id, await signIn(base(port), GH_COOKIE));
      systems.push({
        id,
        name,
        url: `${base(port)}/`,
        m: { cookieFile, redisUrl },
        profile: o.workers === undefined ? id : undefined,
        ...sys,
      });
    });
  }

  const apacheRows: [string, string, number, string][] = [
    ['apache-shm', 'Apache + mod_auth_openidc (shm cache)', apachePort, 'OIDCCacheType shm'],
    [
      'apache-redis',
      'Apache + mod_auth_openidc (Redis cache)',
      apacheRedisPort,
      `OIDCCacheType redis\nOIDCRedisCacheServer 127.0.0.1:${redisPort}`,
    ],
  ];
  for (const [id, name, port, cache] of apacheRows) {
    if (!wanted(id)) continue;
    if (!existsSync(APACHE) || !existsSync(OPENIDC)) {
      console.log(`${name.padEnd(44)} not installed (apt-get install apache2 libapache2-mod-auth-openidc to add this row)`);
      continue;
    }
    await section(id, async () => {
      const adir = join(dir, id);
      mkdirSync(adir);
      writeFileSync(join(adir, 'httpd.conf'), apacheConfig(adir, port, idp.issuer, upstreamPort, cache));
      const apache = start(
        APACHE,
        ['-f', join(adir, 'httpd.conf'), '-DFOREGROUND'],
        { APACHE_RUN_DIR: adir, APACHE_LOCK_DIR: adir },
        { group: true },
      );
      stoppers.push(() => stop(apache));
      await waitForPort(port);
      const cookieFile = join(adir, 'cookie.txt');
      writeFileSync(cookieFile, `${await signIn(base(port), 'mod_auth_openidc_session')}\n`);
      systems.push({ id, name, url: `${base(port)}/`, m: { cookieFile, redisUrl }, proc: { child: apache } });
    });
  }

  const measured = new Map<string, Row[]>();
  for (const sys of systems) if (sys.proc) pause(sys.proc.child);
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) console.log(`\nround ${round} of ${ROUNDS}`);
    // Each round runs the rows in another order (the first in its written order): no row always
    // follows the same one. A rotation was not enough — it keeps every row's neighbours — and
    // two rows of the same config (the one-session row and `workers: auto`, one process on 2
    // CPUs) kept 20-60 % apart round after round.
    for (const sys of roundOrder(systems, round)) {
      await section(sys.id, async () => {
        const proc = sys.proc;
        const fresh = round === 1 || (RESTART && proc?.restart !== undefined);
        if (round > 1 && RESTART && proc?.restart) {
          // A stopped process takes no SIGTERM until it is continued.
          resume(proc.child);
          await stop(proc.child);
          proc.child = await proc.restart();
        }
        // Each session of the list is used once before a fresh process's first measured run.
        const m = { ...(fresh ? sys.m : { ...sys.m, warmRequests: undefined }), pgid: proc?.child.pid };
        if (proc) resume(proc.child);
        let row: Row;
        try {
          row = await measure(sys.id, sys.name, sys.url, m);
        } finally {
          if (proc) pause(proc.child);
        }
        if (sys.profile) served.set(sys.profile, (served.get(sys.profile) ?? 0) + row.warm + row.result.requests);
        measured.set(sys.id, [...(measured.get(sys.id) ?? []), row]);
        if (!rpsByRound.has(sys.id)) rpsByRound.set(sys.id, new Map());
        rpsByRound.get(sys.id)!.set(round, row.result.rps);
      });
    }
  }
  for (const sys of systems) {
    const runs = measured.get(sys.id);
    if (runs?.length) rows.push(median(runs));
  }
  await idp.close();
  for (const sys of systems) if (sys.proc) resume(sys.proc.child);
  for (const s of stoppers) await s();
  for (const name of new Set(systems.map((s) => s.profile).filter((p) => p !== undefined))) profileSummary(name);

  if (ROUNDS > 1) console.log(`\nmedian of ${ROUNDS} rounds per row (requests/s; its p50, p99 and Redis figures are that run's)`);
  const targets = report();
  if (failed.length > 0) console.log(`\nrows that failed: ${[...new Set(failed)].join(', ')}`);
  console.log('\n| system | req/s | p50 | p99 | Redis commands / request | CPU µs / request |\n|---|---|---|---|---|---|');
  for (const r of rows) {
    const redis = r.redisPerRequest === undefined ? '' : r.redisPerRequest.toFixed(3);
    const cpu = r.cpu === undefined ? '' : r.cpu.usPerRequest.toFixed(0);
    console.log(
      `| ${r.name} | ${Math.round(r.result.rps).toLocaleString('en')} | ${r.result.p50ms.toFixed(1)} ms | ${r.result.p99ms.toFixed(1)} ms | ${redis} | ${cpu} |`,
    );
  }
  if (OUT_DIR) {
    mkdirSync(OUT_DIR, { recursive: true });
    const date = new Date().toISOString();
    const runs = Object.fromEntries([...measured].map(([id, rs]) => [id, rs.map((r) => r.result)]));
    writeFileSync(join(OUT_DIR, 'bench-compare.json'), `${JSON.stringify({ date, machine, rows, targets, failed, runs }, null, 2)}\n`);
    writeFileSync(join(OUT_DIR, 'bench-compare.svg'), compareSvg(rows, { date, machine }));
    console.log(`\nwrote ${join(OUT_DIR, 'bench-compare.json')} and ${join(OUT_DIR, 'bench-compare.svg')}`);
  }
}

/** The run with the median requests/s (the lower middle one of an even count). */
function median(runs: readonly Row[]): Row {
  const sorted = [...runs].sort((a, b) => a.result.rps - b.result.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

interface Target {
  readonly name: string;
  readonly value: number;
  /** For a ratio of two rows: the median of the rounds' own ratios (both rows measured in each). */
  readonly paired?: number | undefined;
  readonly unit: string;
  /** The target, and which way it is met. */
  readonly target?: { readonly op: '>=' | '<='; readonly value: number } | undefined;
  readonly pass?: boolean | undefined;
}

/** Ratios and targets, printed; returned for the JSON file. */
function report(): Target[] {
  const r = (id: string) => rows.find((x) => x.id === id);
  const out: Target[] = [];
  const show = (value: number, unit: string) =>
    unit === 'x' ? `${value.toFixed(2)}x` : unit === '%' ? `${value.toFixed(1)} %` : `${value.toFixed(unit === 'ms' ? 2 : 3)} ${unit}`;
  const line = (name: string, value: number | undefined, unit: string, target?: Target['target'], note = '', paired?: number) => {
    if (value === undefined || !Number.isFinite(value)) return;
    const pass = target ? (target.op === '>=' ? value >= target.value : value <= target.value) : undefined;
    out.push({ name, value, paired, unit, target, pass });
    const t = target ? `   target ${target.op} ${target.value}${unit === 'x' ? 'x' : ` ${unit}`}   ${pass ? 'PASS' : 'MISS'}` : '';
    const p = paired === undefined ? '' : `   (rounds paired: ${show(paired, unit)})`;
    console.log(`${name.padEnd(44)} ${show(value, unit).padStart(10)}${t}${p}${note ? `   ${note}` : ''}`);
  };
  const rps = (id: string) => r(id)?.result.rps;
  const ratio = (a: string, b: string) => {
    const x = rps(a);
    const y = rps(b);
    return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
  };
  /** The median of a/b over the rounds that measured both (undefined with fewer than two). */
  const paired = (a: string, b: string) => {
    const ra = rpsByRound.get(a);
    const rb = rpsByRound.get(b);
    const xs: number[] = [];
    for (const [round, x] of ra ?? []) {
      const y = rb?.get(round);
      if (y !== undefined && y > 0) xs.push(x / y);
    }
    if (xs.length < 2) return undefined;
    xs.sort((p, q) => p - q);
    const mid = xs.length / 2;
    return xs.length % 2 === 1 ? xs[Math.floor(mid)]! : (xs[mid - 1]! + xs[mid]!) / 2;
  };
  const pairedLine = (name: string, a: string, b: string, target?: Target['target'], note = '') =>
    line(name, ratio(a, b), 'x', target, note, paired(a, b));
  console.log('');
  pairedLine('Gatehouse / direct upstream', 'gatehouse', 'direct');
  pairedLine('Gatehouse / mod_auth_openidc (shm)', 'gatehouse', 'apache-shm', { op: '>=', value: 1.5 });
  pairedLine('Gatehouse / mod_auth_openidc (Redis)', 'gatehouse', 'apache-redis', { op: '>=', value: 3 });
  pairedLine('Gatehouse / nginx', 'gatehouse', 'nginx', { op: '>=', value: 0.33 });
  pairedLine('Gatehouse / Node floor', 'gatehouse', 'node-floor', undefined, '(what Gatehouse keeps of a bare Node proxy)');
  line('Gatehouse p99 (1 session)', r('gatehouse')?.result.p99ms, 'ms', { op: '<=', value: 10 });
  pairedLine(
    'workers: auto / one process',
    'gatehouse-workers',
    'gatehouse',
    { op: '>=', value: 1 },
    `(auto = ${autoWorkers(availableParallelism())} process(es) on ${cpus().length} CPUs, shared with wrk, upstream, Redis)`,
  );
  pairedLine('workers: 2 / one process', 'gatehouse-workers-2', 'gatehouse', undefined, '(two processes forced)');
  const noAudit = rps('gatehouse-no-audit');
  const withAudit = rps('gatehouse');
  const auditCost = noAudit && withAudit !== undefined ? (1 - withAudit / noAudit) * 100 : undefined;
  const auditPaired = paired('gatehouse', 'gatehouse-no-audit');
  line(
    'audit to a file costs',
    auditCost,
    '%',
    { op: '<=', value: 10 },
    auditCost !== undefined && auditCost < 0 ? '(negative: noise, the row without audit ran slower; run again)' : '',
    auditPaired === undefined ? undefined : (1 - auditPaired) * 100,
  );
  pairedLine(
    'audit in a worker thread / on the event loop',
    'gatehouse-audit-thread',
    'gatehouse',
    undefined,
    '(audit.worker_thread: true / the default)',
  );
  pairedLine(`${SESSIONS.toLocaleString('en')} sessions / 1 session`, 'gatehouse-10k', 'gatehouse', { op: '>=', value: 0.9 });
  line(`Gatehouse p99 (${SESSIONS.toLocaleString('en')} sessions)`, r('gatehouse-10k')?.result.p99ms, 'ms', { op: '<=', value: 10 });
  for (const row of rows) {
    if (row.redisPerRequest === undefined) continue;
    const target = row.id === 'gatehouse-10k' ? ({ op: '<=', value: 0.1 } as const) : undefined;
    line(`Redis commands / request: ${row.id}`, row.redisPerRequest, 'cmd', target);
  }
  return out;
}

runBench(main);
