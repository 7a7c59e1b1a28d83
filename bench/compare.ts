// npm run bench:compare — the peer benchmark, one run, loopback only. Starts a tiny upstream, a
// private redis-server and the demo OpenID provider, then measures in turn, with the same bounded
// load (BENCH_CONNECTIONS, BENCH_SECONDS), after signing in once through each:
//   direct upstream                   the ceiling
//   nginx, plain reverse proxy        the floor any proxy can reach (when nginx is installed)
//   Gatehouse, everything on          Redis sessions, a group policy, identity headers + signed
//                                     assertion, audit to a file
//   Gatehouse, workers: auto          the same with one worker per CPU
//   Apache + mod_auth_openidc         a peer identity-aware proxy with a valid session (when
//                                     apache2 and libapache2-mod-auth-openidc are installed)
// Nothing is installed by the bench.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoIdp } from '../src/demo/idp.ts';
import { TestBrowser } from '../test/support/browser-http.ts';
import { fmt, freePort, has, load, NODE, start, stopAll, waitForPort, type LoadResult } from './lib.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const root = new URL('../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-compare-'));
const ALICE = { username: 'alice', password: 'demo' };
const APACHE = '/usr/sbin/apache2';
const OPENIDC = '/usr/lib/apache2/modules/mod_auth_openidc.so';

const rows: [string, LoadResult][] = [];
function measure(name: string, url: string, headers: Record<string, string> = {}): LoadResult {
  if (WARMUP > 0) load(url, CONNECTIONS, WARMUP, headers);
  const r = load(url, CONNECTIONS, SECONDS, headers);
  console.log(`${name.padEnd(34)} ${fmt(r)}   (${r.tool})`);
  if (r.errors > 0) console.log(`  warning: ${r.errors} non-2xx/socket errors in this row`);
  rows.push([name, r]);
  return r;
}

async function gatehouse(
  name: string,
  port: number,
  idpIssuer: string,
  upstreamPort: number,
  redisPort: number,
  extra: string,
): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `log_level: warn
server: { listen: "127.0.0.1:${port}", public_url: "http://127.0.0.1:${port}"${extra} }
admin: { listen: "127.0.0.1:${await freePort()}" }
session:
  store: redis
  redis: { url: "redis://127.0.0.1:${redisPort}", key_prefix: "compare:" }
  secret: "compare-bench-session-secret-0123456789abcdef"
  cookie: { secure: false }
identity_providers:
  - { id: corp, type: oidc, issuer: "${idpIssuer}", client_id: bench-gatehouse, client_secret: bench-secret, scopes: [openid, email, profile, groups] }
audit:
  sinks: [ { type: file, path: "${join(dir, name, 'audit.ndjson')}", fsync: interval } ]
  spool_dir: "${join(dir, name, 'spool')}"
routes:
  - { name: app, upstream: "http://127.0.0.1:${upstreamPort}", allow: { groups: [ml-admins] } }
`,
  );
  const prof = process.env.BENCH_CPU_PROF && !extra ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  start(NODE, [...prof, join(root, 'src/main.ts'), 'start', '--config', file]);
  await waitForPort(port, 20_000);
  return `http://127.0.0.1:${port}`;
}

async function signIn(url: string): Promise<string> {
  const browser = new TestBrowser();
  const page = await browser.go(`${url}/`, ALICE);
  if (page.status !== 200) throw new Error(`sign-in through ${url} ended with ${page.status}`);
  return browser.jar.header(url)!;
}

async function main(): Promise<void> {
  console.log(
    `Gatehouse peer benchmark: ${CONNECTIONS} connections, ${SECONDS}s per row (+${WARMUP}s warm-up), ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  if (!has('redis-server')) throw new Error('redis-server not found (apt-get install redis-server)');
  const [upstreamPort, redisPort, ghPort, ghWorkersPort, apachePort, nginxPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  start(NODE, [join(root, 'bench/upstream.ts'), String(upstreamPort)]);
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await Promise.all([waitForPort(upstreamPort), waitForPort(redisPort)]);
  const ghBase = `http://127.0.0.1:${ghPort}`;
  const ghwBase = `http://127.0.0.1:${ghWorkersPort}`;
  const apacheBase = `http://127.0.0.1:${apachePort}`;
  const idp = await startDemoIdp({
    clients: [
      {
        client_id: 'bench-gatehouse',
        client_secret: 'bench-secret',
        redirect_uris: [`${ghBase}/.gatehouse/oidc/corp/callback`, `${ghwBase}/.gatehouse/oidc/corp/callback`],
      },
      { client_id: 'bench-apache', client_secret: 'bench-secret', redirect_uris: [`${apacheBase}/redirect_uri`] },
    ],
  });

  const direct = measure('direct upstream', `http://127.0.0.1:${upstreamPort}/`);

  let nginx: LoadResult | undefined;
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
    start(existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', ['-p', ndir, '-c', join(ndir, 'nginx.conf'), '-g', 'daemon off;']);
    await waitForPort(nginxPort);
    nginx = measure('nginx (plain proxy, workers auto)', `http://127.0.0.1:${nginxPort}/`);
  } else {
    console.log('nginx                              not installed (apt-get install nginx-light to add this row)');
  }

  await gatehouse('gatehouse', ghPort, idp.issuer, upstreamPort, redisPort, '');
  const cookie = await signIn(ghBase);
  const gh = measure('Gatehouse, everything on', `${ghBase}/`, { cookie });

  await gatehouse('gatehouse-workers', ghWorkersPort, idp.issuer, upstreamPort, redisPort, ', workers: auto');
  const cookieW = await signIn(ghwBase);
  const ghw = measure('Gatehouse, everything on, workers', `${ghwBase}/`, { cookie: cookieW });

  let apache: LoadResult | undefined;
  if (existsSync(APACHE) && existsSync(OPENIDC)) {
    const adir = join(dir, 'apache');
    mkdirSync(adir);
    const mods = '/usr/lib/apache2/modules';
    writeFileSync(
      join(adir, 'httpd.conf'),
      `ServerRoot "${adir}"
ServerName localhost
Listen 127.0.0.1:${apachePort}
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
OIDCProviderMetadataURL ${idp.issuer}/.well-known/openid-configuration
OIDCClientID bench-apache
OIDCClientSecret bench-secret
OIDCRedirectURI ${apacheBase}/redirect_uri
OIDCCryptoPassphrase compare-bench-passphrase-0123456789
OIDCScope "openid email profile groups"
OIDCPKCEMethod S256
OIDCCacheType shm
OIDCSessionInactivityTimeout 1800
OIDCClaimPrefix OIDC_CLAIM_
<Location />
  AuthType openid-connect
  Require valid-user
</Location>
ProxyPass /redirect_uri !
ProxyPass / http://127.0.0.1:${upstreamPort}/ keepalive=On
`,
    );
    start(APACHE, ['-f', join(adir, 'httpd.conf'), '-DFOREGROUND'], { APACHE_RUN_DIR: adir, APACHE_LOCK_DIR: adir });
    await waitForPort(apachePort);
    const apacheCookie = await signIn(apacheBase);
    apache = measure('Apache + mod_auth_openidc', `${apacheBase}/`, { cookie: apacheCookie });
  } else {
    console.log('Apache + mod_auth_openidc          not installed (apt-get install apache2 libapache2-mod-auth-openidc to add this row)');
  }

  console.log('');
  console.log(`Gatehouse / direct               ${(gh.rps / direct.rps).toFixed(2)}x`);
  if (nginx) console.log(`Gatehouse / nginx                ${(gh.rps / nginx.rps).toFixed(2)}x   (target >= 0.30x, p99 < 10 ms)`);
  if (apache) console.log(`Gatehouse / mod_auth_openidc     ${(gh.rps / apache.rps).toFixed(2)}x   (target >= 1.0x)`);
  console.log(
    `workers auto / single process    ${(ghw.rps / gh.rps).toFixed(2)}x   (${cpus().length} CPUs shared with the load generator and upstream)`,
  );
  await idp.close();
}

main().then(
  () => {
    stopAll();
    setTimeout(() => process.exit(0), 500);
  },
  (err: unknown) => {
    console.error(err);
    stopAll();
    process.exit(1);
  },
);
