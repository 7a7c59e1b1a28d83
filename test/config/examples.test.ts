// The examples in config/examples are copied by users, so each must stay what its folder says it
// is (config/examples/README.md). gatehouse/: every file a complete config that check-config
// accepts, every gatehouse/routes/ fragment compiled merged into the base config. integrations/:
// every file checked by the tool that owns its format where it is installed (nginx -t, python3,
// docker compose), otherwise a YAML parse and a check of the keys Gatehouse relies on. Files are
// found by listing the folders, so a new example is checked without editing this test.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { runCheckConfig } from '../../src/cli/check-config.ts';
import { explain } from '../../src/cli/explain.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { parseConfigText } from '../../src/config/load.ts';

const EXAMPLES = fileURLToPath(new URL('../../config/examples/', import.meta.url));
const GATEHOUSE = join(EXAMPLES, 'gatehouse');
const ROUTES = join(GATEHOUSE, 'routes');
const INTEGRATIONS = join(EXAMPLES, 'integrations');
const BASE = join(GATEHOUSE, 'gatehouse.compose.yaml');
// What a user exports before starting (gatehouse.compose.yaml reads these).
const ENV = { GATEHOUSE_SECRET: 'q7Vb2NxK9pLm4RtW8zYc3HdJ6fGs1AeU5oXi0TkQ2vBn', OIDC_SECRET: 's' };
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const IDENTITY_HEADERS = ['x-forwarded-user', 'x-forwarded-email', 'x-forwarded-groups', 'x-gatehouse-assertion'];

const read = (path: string) => readFileSync(path, 'utf8');
const filesIn = (dir: string) =>
  readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
/** Every file under `dir`, as paths relative to it. */
const filesUnder = (dir: string, prefix = ''): string[] =>
  readdirSync(dir)
    .sort()
    .flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f), `${prefix}${f}/`) : [`${prefix}${f}`]));
const fakeFile = (path: string) =>
  path.endsWith('.pem') ? '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----' : `secret-from-${path}-0123456789abcdefghijklmnop`;

/** The base config with its routes replaced by a routes fragment's, compiled. */
function withRoutes(fragment: string) {
  const doc = parse(read(join(ROUTES, fragment))) as Record<string, unknown>;
  expect(Object.keys(doc), `${fragment} is a routes fragment: routes: and nothing else`).toEqual(['routes']);
  const base = parseConfigText(read(BASE), { env: ENV }) as Record<string, unknown>;
  return compileConfig({ ...base, routes: doc.routes }).config;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('config/examples/gatehouse: complete configs', () => {
  const files = filesIn(GATEHOUSE);
  it('has at least the compose config, and only YAML', () => {
    expect(files).toContain('gatehouse.compose.yaml');
    for (const f of files) expect(f).toMatch(/\.ya?ml$/);
  });

  for (const file of files) {
    it(`${file}: check-config accepts it`, () => {
      for (const [k, v] of Object.entries(ENV)) vi.stubEnv(k, v);
      const out: string[] = [];
      const path = join(GATEHOUSE, file);
      expect(
        runCheckConfig(path, (l) => out.push(l)),
        out.join('\n'),
      ).toBe(0);
      expect(out[0]).toBe(`${path}: OK`);
    });
  }
});

describe('config/examples/gatehouse/routes: fragments merged into gatehouse.compose.yaml', () => {
  for (const file of filesIn(ROUTES)) {
    it(`${file} compiles merged into the base config`, () => {
      expect(withRoutes(file).routes.length).toBeGreaterThan(0);
    });
  }

  it('ml-tools.yaml: its routes, in order', () => {
    expect(withRoutes('ml-tools.yaml').routes.map((r) => r.name)).toEqual([
      'jupyter',
      'jupyterhub',
      'mlflow',
      'label-studio',
      'tensorboard',
      'zenml',
    ]);
  });

  it('ml-tools.yaml: MLflow deletes are for ml-admins under both /api/2.0 and /ajax-api/2.0, in any spelling', () => {
    const config = withRoutes('ml-tools.yaml');
    const engineer = ['user=eve', 'groups=ml-engineers'];
    for (const prefix of ['/api/2.0', '/ajax-api/2.0', '/AJAX-API/2.0', '/ajax-api;x/2.0', '/ajax-api./2.0']) {
      for (const what of ['registered-models/delete', 'experiments/delete']) {
        const lines = explain(config, [...engineer, 'POST', `https://mlflow.corp.example${prefix}/mlflow/${what}`]);
        expect(lines.at(-1), `${prefix}/mlflow/${what}`).toMatch(/^result: {3}DENY \(403\)/);
        expect(
          explain(config, ['user=root', 'groups=ml-admins', 'POST', `https://mlflow.corp.example${prefix}/mlflow/${what}`]).at(-1),
        ).toMatch(/^result: {3}ALLOW/);
      }
    }
    expect(explain(config, [...engineer, 'POST', 'https://mlflow.corp.example/ajax-api/2.0/mlflow/runs/delete']).at(-1)).toMatch(
      /^result: {3}ALLOW/,
    );
  });

  it('the per-tool fragments (run as shipped in test/tools/) carry the settings their tools need', () => {
    const first = (name: string) => withRoutes(name).routes[0];
    expect(first('jupyter-notebook.yaml')).toMatchObject({ name: 'jupyter', preserveHost: true });
    expect(first('jupyterhub.yaml')).toMatchObject({ name: 'jupyterhub', preserveHost: true });
    expect(first('prometheus.yaml')).toMatchObject({ path: '/prometheus', stripPrefix: false });
    expect(first('prometheus-strip-prefix.yaml')).toMatchObject({ path: '/metrics-ui', stripPrefix: true });
  });
});

describe('config/examples/gatehouse/routes: scripts and SDKs (docs/scripts-and-sdks.md)', () => {
  it("routes whose tool owns Authorization read Gatehouse's token from Proxy-Authorization only", () => {
    const first = (name: string) => withRoutes(name).routes[0];
    expect(first('jupyter-api-tokens.yaml')).toMatchObject({ name: 'jupyterhub-api', bearerHeader: 'proxy_authorization' });
    expect(first('zenml-sdk.yaml')).toMatchObject({ name: 'zenml', bearerHeader: 'proxy_authorization' });
    // MLflow, Label Studio (Token scheme) and W&B (Basic) leave Authorization: Bearer free for Gatehouse.
    for (const f of ['mlflow-sdk.yaml', 'label-studio-sdk.yaml', 'wandb-sdk.yaml']) expect(first(f)?.bearerHeader, f).toBe('any');
    expect(first('prometheus-scrape.yaml')).toMatchObject({ name: 'job-exporter', path: '/exporter', stripPrefix: true });
  });
});

// Each integrations/ file has one checker here; a file without one fails the first test.
const CHECKERS: Record<string, () => void> = {
  'docker-compose.yaml': checkCompose,
  'envoy-ext-authz.yaml': checkEnvoy,
  'jupyterhub/gatehouse_authenticator.py': () => checkPython('jupyterhub/gatehouse_authenticator.py'),
  'jupyterhub/jupyterhub_config.py': () => checkPython('jupyterhub/jupyterhub_config.py'),
  'kubernetes/gatehouse.yaml': checkKubernetes,
  'nginx-forward-auth.conf': checkNginx,
  'prometheus/scrape-through-gatehouse.yml': checkPrometheusScrape,
  'sdk/jupyter_api.py': () => checkSdkScript('sdk/jupyter_api.py', 'Proxy-Authorization'),
  'sdk/label_studio_client.py': () => checkSdkScript('sdk/label_studio_client.py', 'Proxy-Authorization'),
  'sdk/mlflow_client.py': () => checkSdkScript('sdk/mlflow_client.py', 'MLFLOW_TRACKING_TOKEN'),
  'sdk/wandb_client.py': () => checkSdkScript('sdk/wandb_client.py', 'Proxy-Authorization'),
  'sdk/zenml_client.py': () => checkSdkScript('sdk/zenml_client.py', 'Proxy-Authorization'),
  'traefik-forward-auth.yaml': checkTraefik,
};

describe('config/examples/integrations: checked by the tool that owns the format', () => {
  const files = filesUnder(INTEGRATIONS);
  it('every file has a check', () => {
    expect(files.filter((f) => !(f in CHECKERS))).toEqual([]);
  });
  for (const file of files) {
    const check = CHECKERS[file];
    if (check) it(file, check, 30_000);
  }
});

/**
 * The client scripts of docs/scripts-and-sdks.md: python3 compiles them, each sends Gatehouse's
 * credential the way its route expects (`how`), and the route fragment its docstring names exists
 * and compiles, with the route the token must be created for.
 */
function checkSdkScript(file: string, how: string): void {
  checkPython(file);
  const text = read(join(INTEGRATIONS, file));
  expect(text).toContain(how);
  const fragment = /routes\/([\w-]+\.yaml)/.exec(text)?.[1];
  expect(fragment, `${file} names its route fragment`).toBeDefined();
  const names = withRoutes(fragment ?? '').routes.map((r) => r.name);
  const route = /route "([\w-]+)"/.exec(text)?.[1];
  expect(names, `${file}: the token's route is in ${fragment}`).toContain(route);
}

/**
 * `promtool check config` where Prometheus' tools are installed (the credentials file replaced by a
 * throwaway one); always: the scrape sends a Bearer credentials_file to a path a route of
 * prometheus-scrape.yaml covers.
 */
function checkPrometheusScrape(): void {
  const file = join(INTEGRATIONS, 'prometheus/scrape-through-gatehouse.yml');
  const text = read(file);
  const doc = parse(text) as {
    scrape_configs: {
      metrics_path: string;
      authorization: { type: string; credentials_file: string };
      static_configs: { targets: string[] }[];
    }[];
  };
  const scrape = doc.scrape_configs[0]!;
  expect(scrape.authorization.type).toBe('Bearer');
  const route = withRoutes('prometheus-scrape.yaml').routes[0]!;
  expect(scrape.metrics_path.startsWith(`${route.path}/`)).toBe(true);
  expect(scrape.static_configs[0]?.targets[0]?.split(':')[0]).toBe(route.host);
  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
  if (!promtool) return;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-promtool-'));
  try {
    writeFileSync(join(dir, 'token'), 'gatehouse_pat_0123456789abcdef_x');
    writeFileSync(join(dir, 'prometheus.yml'), text.replace(scrape.authorization.credentials_file, join(dir, 'token')));
    const r = spawnSync(promtool, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** nginx -t on the file as shipped, included inside an http {} block. */
function checkNginx(): void {
  if (!NGINX) throw new Error('nginx not found: apt-get install nginx-light');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-t-'));
  try {
    // The example's `listen 443 ssl` servers leave the certificate to the reader: a throwaway one.
    const cert = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=mlflow.corp.example',
      '-days',
      '2',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    expect(cert.status, String(cert.stderr)).toBe(0);
    writeFileSync(
      join(dir, 'nginx.conf'),
      `pid ${dir}/nginx.pid; error_log stderr;
events {}
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem;
include ${join(INTEGRATIONS, 'nginx-forward-auth.conf')};
}
`,
    );
    const r = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('test is successful');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** python3 compiles it (no bytecode written into the repository). */
function checkPython(file: string): void {
  const r = spawnSync('python3', ['-c', 'import sys; p = sys.argv[1]; compile(open(p).read(), p, "exec")', join(INTEGRATIONS, file)], {
    encoding: 'utf8',
  });
  expect(r.error, 'python3 not found').toBeUndefined();
  expect(r.status, r.stderr).toBe(0);
}

/**
 * `docker compose config` where Compose is installed; always: the build context has the
 * Dockerfile, the config it mounts exists and is the one the gatehouse/ test checks, the Redis
 * host in that config is a service, and every ${env:X} it reads is passed in.
 */
function checkCompose(): void {
  const file = join(INTEGRATIONS, 'docker-compose.yaml');
  const compose = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  if (compose.status === 0) {
    const r = spawnSync('docker', ['compose', '-f', file, 'config', '-q'], { encoding: 'utf8', env: { ...process.env, ...ENV } });
    expect(r.status, r.stderr).toBe(0);
  }
  const doc = parse(read(file)) as {
    services: Record<
      string,
      { build?: string; image?: string; volumes?: string[]; environment?: Record<string, string>; ports?: string[] }
    >;
  };
  const gh = doc.services.gatehouse;
  expect(gh).toBeDefined();
  expect(existsSync(join(resolve(dirname(file), gh?.build ?? ''), 'Dockerfile')), 'build context has a Dockerfile').toBe(true);
  const mount = gh?.volumes?.find((v) => v.endsWith(':/etc/gatehouse/gatehouse.yaml:ro'));
  expect(mount, 'mounts a config at /etc/gatehouse/gatehouse.yaml').toBeDefined();
  const configPath = resolve(dirname(file), (mount ?? '').split(':')[0] ?? '');
  expect(configPath).toBe(BASE);
  const configText = read(configPath);
  for (const [, name] of configText.matchAll(/\$\{env:([A-Z_]+)\}/g)) expect(Object.keys(gh?.environment ?? {})).toContain(name);
  const raw = parseConfigText(configText, { env: ENV }) as { session: { redis: { url: string } }; server: { listen: string } };
  expect(Object.keys(doc.services)).toContain(new URL(raw.session.redis.url).hostname);
  const port = raw.server.listen.split(':').at(-1);
  expect(gh?.ports).toContain(`${port}:${port}`);
}

/** The ConfigMap's config compiles, the Secret holds every file it reads, the Deployment mounts both. */
function checkKubernetes(): void {
  const docs = parseAllDocuments(read(join(INTEGRATIONS, 'kubernetes/gatehouse.yaml'))).map((d) => d.toJS());
  for (const d of docs)
    expect(d).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String), metadata: { name: 'gatehouse' } });
  expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget']);
  const cm = docs.find((d) => d.kind === 'ConfigMap');
  const text: string = cm.data['gatehouse.yaml'];
  const { config } = compileConfig(parseConfigText(text, { readFile: fakeFile }));
  expect(config.session.store).toBe('redis');
  expect(config.watch).toBe(true);
  const secret = docs.find((d) => d.kind === 'Secret');
  for (const [, key] of text.matchAll(/\/etc\/gatehouse-secrets\/([\w.-]+)/g)) expect(Object.keys(secret.stringData)).toContain(key);
  const volumes = docs.find((d) => d.kind === 'Deployment').spec.template.spec.volumes;
  expect(volumes).toEqual(
    expect.arrayContaining([
      { name: 'config', configMap: { name: 'gatehouse' } },
      { name: 'secrets', secret: { secretName: 'gatehouse' } },
    ]),
  );
}

/**
 * The forwardAuth middleware asks /.gatehouse/auth and passes the identity headers back; every
 * router behind it has a /.gatehouse/ router on the same host to Gatehouse without it.
 */
function checkTraefik(): void {
  type Router = { rule: string; service: string; middlewares?: string[] };
  const { http } = parse(read(join(INTEGRATIONS, 'traefik-forward-auth.yaml'))) as {
    http: {
      middlewares: Record<string, { forwardAuth: { address: string; trustForwardHeader: boolean; authResponseHeaders: string[] } }>;
      routers: Record<string, Router>;
      services: Record<string, unknown>;
    };
  };
  const fa = http.middlewares.gatehouse?.forwardAuth;
  expect(new URL(fa?.address ?? '').pathname).toBe('/.gatehouse/auth');
  expect(fa?.trustForwardHeader).toBe(false);
  expect(fa?.authResponseHeaders.map((h) => h.toLowerCase())).toEqual(expect.arrayContaining(IDENTITY_HEADERS));
  const routers = Object.values(http.routers);
  for (const r of routers) expect(Object.keys(http.services)).toContain(r.service);
  const guarded = routers.filter((r) => r.middlewares?.includes('gatehouse'));
  expect(guarded.length).toBeGreaterThan(0);
  for (const r of guarded) {
    expect(
      routers.some((o) => o.rule === `${r.rule} && PathPrefix(\`/.gatehouse/\`)` && o.service === 'gatehouse' && !o.middlewares),
      `${r.rule}: /.gatehouse/ goes to Gatehouse without the middleware`,
    ).toBe(true);
  }
}

/**
 * The ext_authz filter asks /.gatehouse/auth with the four X-Forwarded-* headers and passes the
 * identity headers on; every virtual host sends /.gatehouse/ to Gatehouse with ext_authz off and
 * names its hosts (no "*").
 */
function checkEnvoy(): void {
  const doc = parse(read(join(INTEGRATIONS, 'envoy-ext-authz.yaml')));
  const filters: { name: string; typed_config: Record<string, any> }[] = doc.http_filters;
  expect(filters.map((f) => f.name)).toEqual(['envoy.filters.http.ext_authz', 'envoy.filters.http.router']);
  const svc = filters[0]?.typed_config.http_service;
  expect(svc.path_prefix).toMatch(/^\/\.gatehouse\/auth\?/);
  expect(svc.authorization_request.headers_to_add.map((h: { key: string }) => h.key).sort()).toEqual([
    'X-Forwarded-Host',
    'X-Forwarded-Method',
    'X-Forwarded-Proto',
    'X-Forwarded-Uri',
  ]);
  const upstream = svc.authorization_response.allowed_upstream_headers.patterns.map((p: { exact: string }) => p.exact);
  expect(upstream).toEqual(expect.arrayContaining(IDENTITY_HEADERS));
  for (const vh of doc.route_config.virtual_hosts) {
    expect(vh.domains).not.toContain('*');
    const own = vh.routes.find((r: { match: { prefix?: string } }) => r.match.prefix === '/.gatehouse/');
    expect(own, `${vh.name}: a /.gatehouse/ route`).toBeDefined();
    expect(own.route.cluster).toBe(svc.server_uri.cluster);
    expect(own.typed_per_filter_config['envoy.filters.http.ext_authz'].disabled).toBe(true);
  }
}
