import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { autoWorkers, compileConfig, formatPath } from '../../src/config/compile.ts';
import type { CompileResult } from '../../src/config/types.ts';
import { checkCidr, parseDuration } from '../../src/config/units.ts';
import { Secret } from '../../src/config/secret.ts';
import { ConfigError, GatehouseError, type ConfigProblem } from '../../src/errors.ts';

type Raw = Record<string, any>;

const UPSTREAM = 'http://127.0.0.1:5000';
const TOKEN = 'admin-token-0123456789-abcdef';

/** A fresh minimal valid raw config; tests mutate their own copy. */
function minimal(): Raw {
  return {
    server: { public_url: 'http://127.0.0.1:4180' },
    routes: [{ name: 'app', upstream: UPSTREAM, allow: { public: true } }],
  };
}

function withRoutes(count: number): Raw {
  const raw = minimal();
  raw.routes = Array.from({ length: count }, (_, i) => ({ name: `r${i}`, path: `/r${i}`, upstream: UPSTREAM, allow: { public: true } }));
  return raw;
}

/** Compile `raw`, expecting failure; returns the ConfigError. */
function compileError(raw: unknown): ConfigError {
  let caught: unknown;
  try {
    compileConfig(raw);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'compileConfig should have thrown').toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err).toBeInstanceOf(GatehouseError);
  expect(err.code).toBe('GH_CONFIG_INVALID');
  expect(err.problems.length).toBeGreaterThan(0);
  return err;
}

/** Assert one problem has exactly `path` and a message containing `fragment`. */
function expectProblem(err: ConfigError, path: string, fragment: string): ConfigProblem {
  const match = err.problems.find((p) => p.path === path && p.message.includes(fragment));
  expect(match, `expected a problem at ${path} containing ${JSON.stringify(fragment)}; got ${JSON.stringify(err.problems)}`).toBeDefined();
  // The rendered message names the key path too, so operators see it without the structured form.
  expect(err.message).toContain(`${path}: `);
  return match!;
}

describe('compileConfig: each kind of problem names its key path', () => {
  it('unknown top-level key', () => {
    const raw = minimal();
    raw.sever = { listen: '0.0.0.0:1' };
    const err = compileError(raw);
    expectProblem(err, 'sever', 'unknown key');
  });

  it('unknown nested key (typo in a route)', () => {
    const raw = minimal();
    raw.routes[0].upstreem = 'http://127.0.0.1:6000';
    const err = compileError(raw);
    expectProblem(err, 'routes[0].upstreem', 'unknown key');
  });

  it('unknown key inside server and inside allow', () => {
    const raw = minimal();
    raw.server.listne = '0.0.0.0:1';
    raw.routes[0].allow.grups = ['ml'];
    const err = compileError(raw);
    expectProblem(err, 'server.listne', 'unknown key');
    expectProblem(err, 'routes[0].allow.grups', 'unknown key');
  });

  it('bad duration', () => {
    const raw = minimal();
    raw.routes[0].timeout = '5 minutes';
    const err = compileError(raw);
    expectProblem(err, 'routes[0].timeout', 'duration');
  });

  it('bad URL', () => {
    const raw = withRoutes(3);
    raw.routes[2].upstream = 'not a url';
    const err = compileError(raw);
    expectProblem(err, 'routes[2].upstream', 'not a URL');
    expect(err.problems).toHaveLength(1);
  });

  it('non-http upstream scheme', () => {
    const raw = minimal();
    raw.routes[0].upstream = 'ftp://127.0.0.1/';
    expectProblem(compileError(raw), 'routes[0].upstream', 'not a URL');
  });

  it('upstream with credentials, query or fragment', () => {
    const raw = withRoutes(3);
    raw.routes[0].upstream = 'http://user:pass@127.0.0.1:5000';
    raw.routes[1].upstream = 'http://127.0.0.1:5000/?x=1';
    raw.routes[2].upstream = 'http://127.0.0.1:5000/#frag';
    const err = compileError(raw);
    for (const i of [0, 1, 2]) expectProblem(err, `routes[${i}].upstream`, 'must not contain');
    // The credentials themselves are not echoed back.
    expect(err.message).not.toContain('pass');
  });

  it('duplicate route names', () => {
    const raw = withRoutes(3);
    raw.routes[2].name = 'r0';
    const err = compileError(raw);
    const p = expectProblem(err, 'routes[2].name', 'duplicate route name "r0"');
    expect(p.message).toContain('routes[0]');
  });

  it('two routes with the same host and path', () => {
    const raw = withRoutes(2);
    raw.routes[1].path = '/r0/';
    expectProblem(compileError(raw), 'routes[1]', 'same host and path as routes[0]');
  });

  it('missing required server.public_url', () => {
    const raw = minimal();
    delete raw.server.public_url;
    expectProblem(compileError(raw), 'server.public_url', 'required');
  });

  it('missing required server and routes', () => {
    const err = compileError({});
    expectProblem(err, 'server', 'required');
    expectProblem(err, 'routes', 'required');
  });

  it('missing required route fields', () => {
    const raw = minimal();
    raw.routes = [{ path: '/x' }];
    const err = compileError(raw);
    expectProblem(err, 'routes[0].name', 'required');
    expectProblem(err, 'routes[0].upstream', 'required');
  });

  it('empty routes list', () => {
    const raw = minimal();
    raw.routes = [];
    expectProblem(compileError(raw), 'routes', 'at least one route');
  });

  it.each(['http://gatehouse.corp.example', 'http://10.0.0.5:4180', 'http://0.0.0.0:4180', 'http://127.0.0.2:4180'])(
    'plain-http public_url %s on a non-loopback host is refused (https required)',
    (url) => {
      const raw = minimal();
      raw.server.public_url = url;
      expectProblem(compileError(raw), 'server.public_url', 'https://');
    },
  );

  it('public_url with a path, query or fragment', () => {
    const raw = minimal();
    raw.server.public_url = 'https://gatehouse.corp.example/sub';
    expectProblem(compileError(raw), 'server.public_url', 'base URL');
  });

  it('bad trusted_proxies CIDR', () => {
    const raw = minimal();
    raw.server.trusted_proxies = ['10.0.0.0/8', '10.0.0.0/33', 'proxy.corp', '::1', 'fd00::/129', '1.2.3.4/8/1'];
    const err = compileError(raw);
    expectProblem(err, 'server.trusted_proxies[1]', 'bad prefix length (0-32)');
    expectProblem(err, 'server.trusted_proxies[2]', 'not an IP address or CIDR');
    expectProblem(err, 'server.trusted_proxies[4]', 'bad prefix length (0-128)');
    expectProblem(err, 'server.trusted_proxies[5]', 'not an IP address or CIDR');
    expect(err.problems.map((p) => p.path)).not.toContain('server.trusted_proxies[0]');
    expect(err.problems.map((p) => p.path)).not.toContain('server.trusted_proxies[3]');
  });

  it.each(['4180', '0.0.0.0', ':4180', '0.0.0.0:http', '::1:4180', '0.0.0.0:123456'])('bad server.listen %j', (listen) => {
    const raw = minimal();
    raw.server.listen = listen;
    expectProblem(compileError(raw), 'server.listen', 'host:port');
  });

  it('bad admin.listen', () => {
    const raw = minimal();
    raw.admin = { listen: 'localhost' };
    expectProblem(compileError(raw), 'admin.listen', 'host:port');
  });

  it.each(['/../admin', '/a/../../admin', '/%2e%2e/admin', '/a%2Fb', '/a%zz', '//api/./v1/', '/a/../b', '/%61pi', '/😀'])(
    'route path %j is refused',
    (path) => {
      const raw = minimal();
      raw.routes[0].path = path;
      expectProblem(compileError(raw), 'routes[0].path', 'plain path prefix');
    },
  );

  it.each(['/admin//settings', '/ops/../internal', '/tools/./x/..', '/%61dmin', '/a%2Fb/**'])(
    'rule path and api_paths entry %j are refused: no request arrives spelled so, the rule would never apply (fail-open)',
    (path) => {
      const raw = minimal();
      raw.routes[0] = { ...raw.routes[0]!, rules: [{ path, allow: { groups: ['admins'] } }], api_paths: [path] };
      const err = compileError(raw);
      expectProblem(err, 'routes[0].rules[0].path', 'normalised path');
      expectProblem(err, 'routes[0].api_paths[0]', 'normalised path');
    },
  );

  it('route path not starting with "/"', () => {
    const raw = minimal();
    raw.routes[0].path = 'api';
    expectProblem(compileError(raw), 'routes[0].path', 'must start with "/"');
  });

  it('short admin token', () => {
    const raw = minimal();
    raw.admin = { token: 'too-short' };
    const err = compileError(raw);
    expectProblem(err, 'admin.token', 'at least 16 characters');
    expect(err.message).not.toContain('too-short');
  });

  it('reports several schema problems together', () => {
    const raw = minimal();
    raw.extra = true;
    raw.server.listen = 'nope';
    raw.routes[0].timeout = 'soon';
    raw.routes[0].upstream = 'not a url';
    const err = compileError(raw);
    expect(err.problems.length).toBeGreaterThanOrEqual(4);
    expectProblem(err, 'extra', 'unknown key');
    expectProblem(err, 'server.listen', 'host:port');
    expectProblem(err, 'routes[0].timeout', 'duration');
    expectProblem(err, 'routes[0].upstream', 'not a URL');
    expect(err.message).toMatch(/^invalid configuration \(\d+ problems\):/);
  });

  it('reports several cross-key problems together', () => {
    const raw = withRoutes(2);
    raw.server.public_url = 'http://gatehouse.corp.example';
    raw.server.trusted_proxies = ['not-an-ip'];
    raw.routes[1].name = 'r0';
    raw.routes[1].path = '/../x';
    const err = compileError(raw);
    expect(err.problems.length).toBeGreaterThanOrEqual(4);
    expectProblem(err, 'server.public_url', 'https://');
    expectProblem(err, 'server.trusted_proxies[0]', 'not an IP address');
    expectProblem(err, 'routes[1].name', 'duplicate route name');
    expectProblem(err, 'routes[1].path', 'plain path prefix');
  });

  it('does not accept non-object input', () => {
    for (const raw of [null, undefined, 'routes: []', 42, []]) compileError(raw);
  });
});

describe('compileConfig: dev mode', () => {
  it.each([
    ['http://127.0.0.1:4180', 'http://127.0.0.1:4180'],
    ['http://localhost:4180', 'http://localhost:4180'],
    ['http://[::1]:4180', 'http://[::1]:4180'],
    ['HTTP://LOCALHOST:4180/', 'http://localhost:4180'],
  ])('http public_url %s is accepted with devMode and a warning', (url, origin) => {
    const raw = minimal();
    raw.server.public_url = url;
    const { config, warnings } = compileConfig(raw);
    expect(config.devMode).toBe(true);
    expect(config.server.publicUrl).toBe(origin);
    expect(warnings.some((w) => w.includes('dev mode') && w.includes(origin))).toBe(true);
  });

  it('https public_url is not dev mode and has no dev-mode warning about it', () => {
    const raw = minimal();
    raw.server.public_url = 'https://gatehouse.corp.example/';
    const { config, warnings } = compileConfig(raw);
    expect(config.devMode).toBe(false);
    expect(config.server.publicUrl).toBe('https://gatehouse.corp.example');
    expect(warnings.some((w) => w.includes('server.public_url'))).toBe(false);
  });
});

describe('compileConfig: several identity providers', () => {
  const two = (route: Record<string, unknown>) => ({
    server: { public_url: 'http://127.0.0.1:4180' },
    session: { secret: 'several-idps-session-secret-0123456789abcdef' },
    identity_providers: [
      { id: 'corp', type: 'oidc', issuer: 'http://127.0.0.1:9', client_id: 'a', client_secret: 'b' },
      { id: 'partner', type: 'oidc', issuer: 'http://127.0.0.1:9', client_id: 'c', client_secret: 'd' },
    ],
    routes: [{ name: 'app', upstream: 'http://127.0.0.1:5000', ...route }],
  });

  it('warns, naming routes[i].idps, when a protected route believes every IdP (each can assert any user or group)', () => {
    const { warnings } = compileConfig(two({ allow: { groups: ['ml-admins'] } }));
    expect(warnings.filter((w) => w.includes('routes[0].idps') && w.includes('corp, partner'))).toHaveLength(1);
  });

  it('is quiet once the route names the IdPs it trusts, or lets everyone in anyway', () => {
    expect(compileConfig(two({ allow: { groups: ['ml-admins'] }, idps: ['corp'] })).warnings.filter((w) => w.includes('.idps'))).toEqual(
      [],
    );
    expect(compileConfig(two({ allow: { public: true } })).warnings.filter((w) => w.includes('.idps'))).toEqual([]);
  });

  it('tells the upstream which IdP vouched (identity_headers.idp, default X-Forwarded-Idp; "" = not sent)', () => {
    expect(compileConfig(two({ allow: { public: true } })).config.routes[0]!.identityHeaders.idp).toBe('X-Forwarded-Idp');
    expect(
      compileConfig({ ...two({ allow: { public: true } }), identity_headers: { idp: '' } }).config.routes[0]!.identityHeaders.idp,
    ).toBe('');
  });
});

describe('compileConfig: result', () => {
  function compileMinimal(): CompileResult {
    return compileConfig(minimal());
  }

  it('fills defaults', () => {
    const { config } = compileMinimal();
    expect(config.logLevel).toBe('info');
    expect(config.server.listen).toEqual({ host: '0.0.0.0', port: 4180 });
    expect(config.server.trustedProxies).toEqual([]);
    expect(config.server.tls).toBeUndefined();
    expect(config.server.shutdownTimeoutMs).toBe(10_000);
    expect(config.admin.listen).toEqual({ host: '127.0.0.1', port: 4181 });
    expect(config.admin.token).toBeUndefined();
    expect(config.routes).toHaveLength(1);
    const r = config.routes[0]!;
    expect(r.name).toBe('app');
    expect(r.host).toBeUndefined();
    expect(r.path).toBe('/');
    expect(r.timeoutMs).toBe(30_000);
    expect(r.preserveHost).toBe(false);
    expect(r.allow).toEqual({ public: true });
  });

  it('compiles listeners, upstreams, hosts and paths', () => {
    const raw = minimal();
    raw.log_level = 'debug';
    raw.server.listen = '[::1]:8443';
    raw.server.tls = { cert_file: '/etc/gh/cert.pem', key_file: '/etc/gh/key.pem' };
    raw.server.trusted_proxies = ['10.0.0.0/8', '::1'];
    raw.admin = { listen: '127.0.0.1:9000' };
    raw.routes = [
      {
        name: 'ml',
        host: 'MLflow.Corp.Example',
        path: '/api/v1/',
        upstream: 'https://mlflow.internal:8443/base/',
        timeout: '90s',
        preserve_host: true,
      },
    ];
    const { config } = compileConfig(raw);
    expect(config.logLevel).toBe('debug');
    expect(config.server.listen).toEqual({ host: '::1', port: 8443 });
    expect(config.server.tls).toEqual({ certFile: '/etc/gh/cert.pem', keyFile: '/etc/gh/key.pem' });
    expect(config.server.trustedProxies).toEqual(['10.0.0.0/8', '::1']);
    expect(config.admin.listen).toEqual({ host: '127.0.0.1', port: 9000 });
    const r = config.routes[0]!;
    expect(r.host).toBe('mlflow.corp.example');
    expect(r.path).toBe('/api/v1');
    expect(r.upstream).toEqual({ origin: 'https://mlflow.internal:8443', basePath: '/base', host: 'mlflow.internal:8443' });
    expect(r.timeoutMs).toBe(90_000);
    expect(r.preserveHost).toBe(true);
    expect(r.allow).toBeUndefined();
  });

  it('compiles allow, deny and rules to the typed shapes policy/ reads, with only the keys written', () => {
    const raw = minimal();
    raw.routes[0].allow = { email_domains: ['corp.example'], groups: ['ml'], authenticated: false };
    raw.routes[0].deny = { users: ['mallory'], email_domains: ['partner.example'] };
    raw.routes[0].rules = [
      { path: '/health', public: true },
      { path: '/admin', methods: ['POST'], allow: { emails: ['a@corp.example'] }, deny: { groups: ['contractors'] } },
    ];
    const r = compileConfig(raw).config.routes[0]!;
    expect(r.allow).toStrictEqual({ authenticated: false, groups: ['ml'], emailDomains: ['corp.example'] });
    expect(Object.keys(r.allow!)).toEqual(['authenticated', 'groups', 'emailDomains']);
    expect(r.deny).toStrictEqual({ users: ['mallory'], emailDomains: ['partner.example'] });
    const [health, admin] = r.rules.map((x) => x.id);
    expect(r.rules).toStrictEqual([
      { id: health, path: '/health', methods: undefined, public: true, allow: undefined, deny: undefined },
      {
        id: admin,
        path: '/admin',
        methods: ['POST'],
        public: false,
        allow: { emails: ['a@corp.example'] },
        deny: { groups: ['contractors'] },
      },
    ]);
  });

  it('gives each rule a stable id (its route and content, not its position) and the config a hash computed at load (issue 14)', () => {
    const raw = minimal();
    const name = raw.routes[0].name;
    const health = { path: '/health', public: true };
    const admin = { path: '/admin', methods: ['POST'], allow: { emails: ['a@corp.example'] } };
    raw.routes[0].rules = [health, admin];
    const first = compileConfig(raw).config;
    const [healthId, adminId] = first.routes[0]!.rules.map((x) => x.id);
    expect(healthId).toMatch(new RegExp(`^${name}/[0-9a-f]{12}$`));
    expect(adminId).not.toBe(healthId);
    // A rule added in front moves the others: their ids stay.
    raw.routes[0].rules = [{ path: '/new', public: true }, admin, health];
    const second = compileConfig(raw).config;
    expect(second.routes[0]!.rules.slice(1).map((x) => x.id)).toEqual([adminId, healthId]);
    // The config hash: SHA-256 hex, the same for the same config, another for another.
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    raw.routes[0].rules = [health, admin];
    expect(compileConfig(raw).config.hash).toBe(first.hash);
    expect(second.hash).not.toBe(first.hash);
    // Two identical rules in one route are told apart.
    raw.routes[0].rules = [health, health];
    const twice = compileConfig(raw).config.routes[0]!.rules.map((x) => x.id);
    expect(twice).toEqual([healthId, `${healthId}~2`]);
  });

  it('is deep-frozen', () => {
    const raw = minimal();
    raw.server.trusted_proxies = ['10.0.0.0/8'];
    raw.routes[0].allow = { groups: ['ml'] };
    const { config } = compileConfig(raw);

    const unfrozen: string[] = [];
    const walk = (value: unknown, at: string) => {
      if (value === null || typeof value !== 'object') return;
      if (!Object.isFrozen(value)) unfrozen.push(at);
      if (value instanceof Secret) return;
      for (const [k, v] of Object.entries(value)) walk(v, `${at}.${k}`);
    };
    walk(config, 'config');
    expect(unfrozen).toEqual([]);
    for (const obj of [
      config,
      config.server,
      config.server.listen,
      config.server.trustedProxies,
      config.admin,
      config.routes,
      config.routes[0],
      config.routes[0]!.upstream,
      config.routes[0]!.allow,
      config.routes[0]!.allow!.groups,
    ]) {
      expect(Object.isFrozen(obj)).toBe(true);
    }

    // ES modules run in strict mode: writing to a frozen object throws instead of being ignored.
    expect(() => {
      (config as { devMode: boolean }).devMode = false;
    }).toThrow(TypeError);
    expect(() => {
      (config.server.listen as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.routes[0] as { path: string }).path = '/admin';
    }).toThrow(TypeError);
    expect(() => {
      (config.routes as unknown[]).push({});
    }).toThrow(TypeError);
    expect(() => {
      (config.routes[0]!.allow!.groups as string[]).push('admins');
    }).toThrow(TypeError);
    expect(() => {
      (config.server.trustedProxies as string[])[0] = '0.0.0.0/0';
    }).toThrow(TypeError);
    expect(config.server.trustedProxies).toEqual(['10.0.0.0/8']);
    expect(config.routes[0]!.allow!.groups).toEqual(['ml']);
  });

  it('does not share mutable state with the raw input', () => {
    const raw = minimal();
    raw.server.trusted_proxies = ['10.0.0.0/8'];
    const { config } = compileConfig(raw);
    raw.server.trusted_proxies.push('0.0.0.0/0');
    raw.routes[0].allow.public = false;
    expect(config.server.trustedProxies).toEqual(['10.0.0.0/8']);
    expect(config.routes[0]!.allow).toEqual({ public: true });
  });

  it('warns about a route with no allow (default deny)', () => {
    const raw = withRoutes(2);
    delete raw.routes[1].allow;
    const { config, warnings } = compileConfig(raw);
    expect(config.routes[1]!.allow).toBeUndefined();
    const w = warnings.filter((x) => x.includes('default deny'));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('routes[1]');
    expect(w[0]).toContain('r1');
  });

  it('keeps the admin token as a Secret that never prints its value', () => {
    const raw = minimal();
    raw.admin = { token: TOKEN };
    const { config } = compileConfig(raw);
    const token = config.admin.token;
    expect(token).toBeInstanceOf(Secret);
    expect(token!.value()).toBe(TOKEN);
    expect(token!.length).toBe(TOKEN.length);
    expect(String(token)).toBe('[redacted]');
    expect(`${token}`).toBe('[redacted]');
    expect(JSON.stringify(token)).toBe('"[redacted]"');
    expect(inspect(token)).toBe('[redacted]');

    const json = JSON.stringify(config);
    expect(json).not.toContain(TOKEN);
    expect(JSON.parse(json).admin.token).toBe('[redacted]');
    expect(inspect(config, { depth: null })).not.toContain(TOKEN);
    expect(inspect(config.admin, { depth: null, showHidden: true })).not.toContain(TOKEN);
    expect(Object.keys(token!)).toEqual([]);
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['0s', 0],
    ['1s', 1000],
    ['30s', 30_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['1d', 86_400_000],
    ['7d', 604_800_000],
  ] as const)('%s = %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['5 minutes', '1.5s', '10', '-1s', '1w', 's', '', ' 1s', '1S', '1h30m'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration/);
  });

  it('durations in the config reach the compiled form', () => {
    const raw = minimal();
    raw.server.shutdown_timeout = '250ms';
    raw.routes[0].timeout = '15m';
    const { config } = compileConfig(raw);
    expect(config.server.shutdownTimeoutMs).toBe(250);
    expect(config.routes[0]!.timeoutMs).toBe(900_000);
  });
});

describe('checkCidr', () => {
  it.each(['10.0.0.0/8', '192.168.1.1', '0.0.0.0/0', '10.0.0.0/32', '::1', 'fd00::/8', '::/0', '2001:db8::/128'])('accepts %s', (v) => {
    expect(checkCidr(v)).toBeUndefined();
  });

  it.each([
    ['10.0.0.0/33', 'bad prefix length'],
    ['10.0.0.0/', 'bad prefix length'],
    ['10.0.0.0/x', 'bad prefix length'],
    ['10.0.0.0/-1', 'bad prefix length'],
    ['fd00::/129', 'bad prefix length'],
    ['10.0.0/8', 'not an IP'],
    ['proxy.corp', 'not an IP'],
    ['', 'not an IP'],
    ['10.0.0.0/8/8', 'not an IP'],
  ])('refuses %j (%s)', (v, fragment) => {
    expect(checkCidr(v)).toContain(fragment);
  });
});

describe('formatPath', () => {
  it.each([
    [['routes', 2, 'upstream'], 'routes[2].upstream'],
    [['server', 'trusted_proxies', 0], 'server.trusted_proxies[0]'],
    [['log_level'], 'log_level'],
    [[], ''],
    [[0, 'a'], '[0].a'],
  ] as const)('%j → %j', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });
});

describe('server.workers: auto', () => {
  it.each([
    [1, 1],
    [2, 1],
    [3, 2],
    [4, 3],
    [16, 15],
  ])('%i CPUs: %i worker process(es), a CPU left for the audit thread, GC and the kernel', (cpus, workers) => {
    expect(autoWorkers(cpus)).toBe(workers);
  });

  it('resolves auto when compiling (this machine: its CPUs but one, at least one)', () => {
    const { config } = compileConfig({
      server: { public_url: 'http://127.0.0.1:8080', workers: 'auto' },
      session: { store: 'redis', redis: { url: 'redis://127.0.0.1:6379' }, secret: 'workers-auto-secret-0123456789abcdefghij' },
      routes: [{ name: 'app', upstream: 'http://127.0.0.1:9000', allow: { public: true } }],
    });
    expect(config.server.workers).toBe(autoWorkers(availableParallelism()));
  });
});
