// Forward-auth attack suite (issue 11, breach 1): real nginx in front of Gatehouse in both header
// modes, a spy upstream behind nginx recording exactly what nginx served, and every case a row of
// forward-auth.cases.tsv. For every row the invariant is the same: nothing the policy forbids
// reaches the upstream, and what it allows still does. Direct rows send crafted descriptions to
// /.gatehouse/auth from a trusted peer, to pin down the parse itself.
//
// nginx setups: the shipped config/examples/integrations/nginx-forward-auth.conf with only its addresses
// replaced ("host"), the same with the common $http_host variant ("http_host"), the same without
// its /.gatehouse/ location so that every request is asked about ("askall"), the same without its
// default server so that every Host spelling reaches the app's block ("single"), and a
// Traefik-style X-Forwarded-* configuration ("fwd").
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type RunningNginx as Nginx } from '../support/nginx.ts';
import { sendRaw, type RawResult } from '../support/raw-http.ts';
import { startSpyUpstream, type SpyUpstream } from '../support/spy-upstream.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';

const EXAMPLE = readFileSync(new URL('../../config/examples/integrations/nginx-forward-auth.conf', import.meta.url), 'utf8');
const CASES = new URL('./forward-auth.cases.tsv', import.meta.url);

const APP_HOST = 'mlflow.corp.example';
const NGINX_SETUPS = ['host', 'http_host', 'askall', 'single', 'fwd'] as const;
const SETUPS = [...NGINX_SETUPS, 'direct-url', 'direct-fwd'] as const;
type Setup = (typeof SETUPS)[number];
type NginxSetup = Exclude<Setup, 'direct-url' | 'direct-fwd'>;
const ALIASES: Record<string, readonly Setup[]> = { nginx: NGINX_SETUPS, orig: ['host', 'http_host', 'askall', 'single'] };

interface Case {
  readonly id: string;
  readonly setups: readonly Setup[];
  readonly who: 'anon' | 'bob' | 'alice';
  readonly method: string;
  readonly target: string;
  readonly host: string | undefined;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly expect: string;
  readonly source: string;
}

/** "\xNN" in targets and hosts stands for one raw byte (sent as latin1). */
const unescapeBytes = (s: string) => s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

function loadCases(): Case[] {
  const lines = readFileSync(CASES, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const [header, ...rows] = lines;
  expect(header!.split('\t')).toEqual(['id', 'setups', 'who', 'method', 'target', 'host', 'headers', 'expect', 'source']);
  return rows.map((line) => {
    const cols = line.split('\t');
    if (cols.length !== 9) throw new Error(`forward-auth.cases.tsv: ${cols.length} columns in ${JSON.stringify(line.slice(0, 60))}`);
    const [id, setups, who, method, target, host, headers, expectation, source] = cols as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const list = setups.split(',').flatMap((s) => ALIASES[s] ?? [s]);
    for (const s of list) if (!(SETUPS as readonly string[]).includes(s)) throw new Error(`${id}: unknown setup ${s}`);
    if (!['anon', 'bob', 'alice'].includes(who)) throw new Error(`${id}: unknown who ${who}`);
    if (source.trim() === '') throw new Error(`${id}: no source`);
    return {
      id,
      setups: list as Setup[],
      who: who as Case['who'],
      method,
      target: unescapeBytes(target),
      host: host === '-' ? undefined : unescapeBytes(host),
      headers: headers === '-' ? {} : JSON.parse(headers),
      expect: expectation,
      source,
    };
  });
}

const ALL_CASES = loadCases();

// ---------------------------------------------------------------------------------------------
// Real parts: two Gatehouse instances (one per header mode), four nginx instances, four spies.

/** Replace exactly one occurrence: if the shipped example changes shape, the suite says so. */
function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const count =
    typeof from === 'string'
      ? text.split(from).length - 1
      : (text.match(new RegExp(from.source, `${from.flags.replace('g', '')}g`)) ?? []).length;
  if (count !== 1) throw new Error(`expected exactly one ${String(from)} in the nginx example, found ${count}`);
  return text.replace(from, to);
}

/** The shipped example with only its addresses changed: listen port, Gatehouse, app upstream. */
function exampleConf(
  variant: 'host' | 'http_host' | 'askall' | 'single',
  gatehousePort: number,
  spy: SpyUpstream,
): (port: number) => string {
  return (port) => {
    let c = EXAMPLE;
    c = replaceOnce(c, 'server 127.0.0.1:4180;', `server 127.0.0.1:${gatehousePort};`);
    c = replaceOnce(c, 'listen 443 ssl default_server;', `listen 127.0.0.1:${port} default_server;`);
    c = replaceOnce(c, 'listen 443 ssl;', `listen 127.0.0.1:${port};`);
    c = replaceOnce(c, 'proxy_pass http://127.0.0.1:5000;', `proxy_pass ${spy.url};`);
    if (variant === 'http_host') {
      c = replaceOnce(
        c,
        'proxy_set_header X-Original-URL $scheme://$host$request_uri;',
        'proxy_set_header X-Original-URL $scheme://$http_host$request_uri;',
      );
    }
    if (variant === 'askall') c = replaceOnce(c, /\n[ \t]*location \/\.gatehouse\/ \{[^}]*\}\n/, '\n');
    if (variant === 'single') c = replaceOnce(c, /\nserver \{\n[ \t]*listen [^\n]* default_server;[^}]*\}\n/, '\n');
    return c;
  };
}

/** What Traefik's forwardAuth sends: the original method, scheme, Host as sent, and URI. */
function traefikStyleConf(gatehousePort: number, spy: SpyUpstream): (port: number) => string {
  return (port) => `
    upstream gatehouse { server 127.0.0.1:${gatehousePort}; keepalive 8; }
    server { listen 127.0.0.1:${port} default_server; server_name _; return 444; }
    server {
      listen 127.0.0.1:${port};
      server_name ${APP_HOST};
      location = /_gatehouse_auth {
        internal;
        proxy_pass http://gatehouse/.gatehouse/auth;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Forwarded-Method $request_method;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Uri $request_uri;
      }
      location /.gatehouse/ {
        proxy_pass http://gatehouse;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
      }
      location / {
        auth_request /_gatehouse_auth;
        auth_request_set $gh_user $upstream_http_x_forwarded_user;
        auth_request_set $gh_signin $upstream_http_x_gatehouse_signin;
        proxy_set_header X-Forwarded-User $gh_user;
        proxy_pass ${spy.url};
        error_page 401 = @signin;
      }
      location @signin { return 302 $gh_signin; }
    }`;
}

function gatehouseConfig(headers: 'original_url' | 'forwarded', upstream: string) {
  return {
    ...baseConfig(upstream),
    server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', trusted_proxies: ['127.0.0.1'], shutdown_timeout: '2s' },
    forward_auth: { headers },
    session: { secret: 'forward-auth-attack-suite-secret-0123456789', cookie: { secure: false } },
    // The ingress decides where requests go in this mode; the routes carry the policy.
    routes: [
      { name: 'admin', host: APP_HOST, path: '/admin', upstream, allow: { groups: ['ml-admins'] } },
      {
        name: 'app',
        host: APP_HOST,
        upstream,
        allow: { authenticated: true },
        rules: [
          { path: '/health', public: true },
          { path: '/reports', methods: ['GET'], public: true },
        ],
      },
      { name: 'docs', host: 'docs.corp.example', upstream, allow: { public: true } },
    ],
  };
}

interface World {
  readonly gh: Record<'original_url' | 'forwarded', StartedGatehouse>;
  readonly cookies: Record<'original_url' | 'forwarded', Record<'bob' | 'alice', string>>;
  readonly nginx: Record<NginxSetup, Nginx>;
  readonly spies: Record<NginxSetup, SpyUpstream>;
}

let world: World | undefined;
const stops: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  const spies = {} as Record<NginxSetup, SpyUpstream>;
  for (const s of NGINX_SETUPS) {
    const spy = await startSpyUpstream({ autoClose: false });
    stops.push(() => spy.close());
    spies[s] = spy;
  }
  const gh = {} as World['gh'];
  const cookies = {} as World['cookies'];
  for (const mode of ['original_url', 'forwarded'] as const) {
    const g = await startTestGatehouse(gatehouseConfig(mode, spies.host.url), { keepRunning: true });
    stops.push(() => g.shutdown());
    gh[mode] = g;
    const sessions = g.current().sessions;
    const bob = await sessions.create({ user: 'bob@example.com', email: 'bob@example.com', groups: ['labelers'], idp: 't', method: 't' });
    const alice = await sessions.create({
      user: 'alice@example.com',
      email: 'alice@example.com',
      groups: ['ml-admins'],
      idp: 't',
      method: 't',
    });
    cookies[mode] = { bob: bob.cookieValue, alice: alice.cookieValue };
  }
  const portOf = (g: StartedGatehouse) => Number(new URL(g.url).port);
  const nginx = {} as Record<NginxSetup, Nginx>;
  const confs: Record<NginxSetup, (port: number) => string> = {
    host: exampleConf('host', portOf(gh.original_url), spies.host),
    http_host: exampleConf('http_host', portOf(gh.original_url), spies.http_host),
    askall: exampleConf('askall', portOf(gh.original_url), spies.askall),
    single: exampleConf('single', portOf(gh.original_url), spies.single),
    fwd: traefikStyleConf(portOf(gh.forwarded), spies.fwd),
  };
  for (const s of NGINX_SETUPS) {
    const n = await startNginx(confs[s]);
    // nginx goes first at teardown: its keep-alive connections would hold Gatehouse's shutdown.
    stops.unshift(() => {
      n.child.kill('SIGTERM');
    });
    nginx[s] = n;
  }
  world = { gh, cookies, nginx, spies };
}, 60_000);

afterAll(async () => {
  for (const stop of stops) await stop();
}, 30_000);

// ---------------------------------------------------------------------------------------------

function rawRequest(
  method: string,
  target: string,
  host: string | undefined,
  headers: Readonly<Record<string, string | string[]>>,
  cookie: string | undefined,
): string {
  const lines = [`${method} ${target} ${host === undefined ? 'HTTP/1.0' : 'HTTP/1.1'}`];
  if (host !== undefined) lines.push(`Host: ${host}`);
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  if (cookie) lines.push(`Cookie: gatehouse=${cookie}`);
  lines.push('Connection: close');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const fill = (s: string, port: number) =>
  s.replaceAll('{port}', String(port)).replace(/\{(\d+)\*(.)\}/g, (_, n: string, ch: string) => ch.repeat(Number(n)));
const fillHeaders = (h: Case['headers'], port: number) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => fill(x, port)) : fill(v, port)]));

/** "<setups>: <expectation> | <expectation>": the first alternative for this setup, else the last. */
function expectationFor(text: string, setup: Setup): string {
  const alternatives = text.split(' | ');
  for (const alt of alternatives) {
    const m = /^([a-z_,-]+): (.*)$/.exec(alt);
    if (!m) continue;
    if (
      m[1]!
        .split(',')
        .flatMap((s) => ALIASES[s] ?? [s])
        .includes(setup)
    )
      return m[2]!;
  }
  return alternatives.at(-1)!;
}

/** `key=value` options after the leading words of an expectation. */
function parseExpect(text: string): { words: string[]; opts: Record<string, string> } {
  const words: string[] = [];
  const opts: Record<string, string> = {};
  for (const part of text.split(' ')) {
    const eq = part.indexOf('=');
    if (eq > 0 && /^[a-z]+$/.test(part.slice(0, eq))) opts[part.slice(0, eq)] = part.slice(eq + 1);
    else words.push(part);
  }
  return { words, opts };
}

/** A Location Gatehouse (or nginx, from X-Gatehouse-Signin) sent: canonical authority, served host. */
function expectCanonicalLocation(location: string | undefined): void {
  if (location === undefined) return;
  const u = new URL(location);
  expect(location.startsWith(`${u.protocol}//${u.host}/`), `Location authority spelled canonically: ${location}`).toBe(true);
  expect([APP_HOST, 'docs.corp.example', '127.0.0.1']).toContain(u.hostname);
}

async function runNginxCase(c: Case, setup: NginxSetup): Promise<void> {
  const w = world!;
  const n = w.nginx[setup];
  const spy = w.spies[setup];
  spy.reset();
  const mode = setup === 'fwd' ? 'forwarded' : 'original_url';
  const cookie = c.who === 'anon' ? undefined : w.cookies[mode][c.who];
  const bytes = rawRequest(
    c.method,
    fill(c.target, n.port),
    c.host === undefined ? undefined : fill(c.host, n.port),
    fillHeaders(c.headers, n.port),
    cookie,
  );
  const r: RawResult = await sendRaw({ host: '127.0.0.1', port: n.port }, bytes, { timeoutMs: 15_000, methods: [c.method] });
  expect(r.end, `nginx answered ${c.id} (${setup})`).not.toBe('timeout');
  const seen = spy.requests();
  const res = r.responses[0];
  const { words, opts } = parseExpect(fill(expectationFor(c.expect, setup), n.port));
  const what = `${c.id} via ${setup}: ${r.statuses.join(',') || 'no response'}, upstream saw ${JSON.stringify(seen.map((s) => `${s.method} ${s.target}`))}`;
  switch (words[0]) {
    case 'served': {
      expect(
        seen.map((s) => s.target),
        what,
      ).toEqual([words[1]]);
      expect(seen[0]!.method, what).toBe(c.method);
      expect(res?.status, what).toBe(200);
      if (opts.user !== undefined) expect(seen[0]!.header('x-forwarded-user'), what).toBe(opts.user);
      else expect(seen[0]!.header('x-forwarded-user'), what).toBeUndefined();
      break;
    }
    case 'blocked':
    case 'gatehouse': {
      expect(seen, what).toEqual([]);
      if (words[1] === 'closed') {
        expect(r.responses, what).toEqual([]);
        expect(r.end, what).toBe('closed');
      } else {
        expect(res?.status, what).toBe(Number(words[1]));
        expect(res!.text().includes('"spy":true'), what).toBe(false);
      }
      const location = res?.header('location');
      expectCanonicalLocation(location);
      if (opts.location !== undefined) expect(location, what).toBe(opts.location);
      break;
    }
    default:
      throw new Error(`${c.id}: unknown expectation ${c.expect}`);
  }
}

async function runDirectCase(c: Case, setup: 'direct-url' | 'direct-fwd'): Promise<void> {
  const w = world!;
  const mode = setup === 'direct-fwd' ? 'forwarded' : 'original_url';
  const gh = w.gh[mode];
  const port = Number(new URL(gh.url).port);
  const cookie = c.who === 'anon' ? undefined : w.cookies[mode][c.who];
  const bytes = rawRequest(c.method, c.target, '127.0.0.1', fillHeaders(c.headers, port), cookie);
  const r = await sendRaw({ host: '127.0.0.1', port }, bytes, { timeoutMs: 15_000, methods: [c.method] });
  const res = r.responses[0];
  const { words, opts } = parseExpect(expectationFor(c.expect, setup));
  const what = `${c.id} (${setup}): ${res ? `${res.status} ${res.text().slice(0, 200)}` : `no response (${r.end})`}`;
  expect(res?.status, what).toBe(Number(words[0]));
  if (words[1] !== undefined) expect(JSON.parse(res!.text()).error, what).toBe(words[1]);
  const signin = res!.header('x-gatehouse-signin');
  const location = res!.header('location');
  // Only an unauthenticated answer names the sign-in URL, only a redirect has a Location, and both
  // are canonical; every 401 row states the URL it expects.
  if (res!.status === 401) expect(opts.signin, `${c.id}: a 401 row names its signin=`).toBeDefined();
  expect(signin, what).toBe(opts.signin);
  expect(location, what).toBe(opts.location);
  expectCanonicalLocation(signin);
  expectCanonicalLocation(location);
  if (res!.status === 200) {
    expect(res!.header('x-forwarded-user'), what).toBe(c.who === 'anon' ? undefined : `${c.who}@example.com`);
  }
}

describe('forward-auth attack table (test/security/forward-auth.cases.tsv)', () => {
  it('has a source for every row and covers every setup', () => {
    expect(ALL_CASES.length).toBeGreaterThan(150);
    for (const s of SETUPS)
      expect(
        ALL_CASES.some((c) => c.setups.includes(s)),
        s,
      ).toBe(true);
    expect(new Set(ALL_CASES.map((c) => c.id)).size).toBe(ALL_CASES.length);
  });

  for (const c of ALL_CASES) {
    for (const setup of c.setups) {
      it(`${c.id} [${setup}] — ${c.source}`, async () => {
        if (setup === 'direct-url' || setup === 'direct-fwd') await runDirectCase(c, setup);
        else await runNginxCase(c, setup);
      });
    }
  }
});

describe('forward-auth answers', () => {
  it('a 200 carries the identity headers and nothing that steers the ingress', async () => {
    const gh = world!.gh.original_url;
    const port = Number(new URL(gh.url).port);
    const bytes = rawRequest(
      'GET',
      '/.gatehouse/auth',
      '127.0.0.1',
      { 'x-original-url': `http://${APP_HOST}/experiments`, 'x-original-method': 'GET' },
      world!.cookies.original_url.bob,
    );
    const r = await sendRaw({ host: '127.0.0.1', port }, bytes);
    const res = r.responses[0]!;
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.header('x-forwarded-user')).toBe('bob@example.com');
    expect(res.header('x-forwarded-groups')).toBe('labelers');
    expect(res.header('cache-control')).toBe('no-store');
    const names = res.headers.map(([n]) => n.toLowerCase()).sort();
    const identity = names.filter((n) => n.startsWith('x-forwarded-') || n === 'x-gatehouse-assertion');
    const bookkeeping = ['cache-control', 'connection', 'content-length', 'date', 'x-request-id'];
    expect(names.filter((n) => !identity.includes(n) && !bookkeeping.includes(n))).toEqual([]);
  });

  it('a peer outside trusted_proxies gets 403 and no identity, whatever it describes', async () => {
    const gh = await startTestGatehouse({
      ...gatehouseConfig('original_url', world!.spies.host.url),
      server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', trusted_proxies: ['10.9.9.9'] },
    });
    const bob = await gh
      .current()
      .sessions.create({ user: 'bob@example.com', email: 'bob@example.com', groups: ['labelers'], idp: 't', method: 't' });
    const port = Number(new URL(gh.url).port);
    for (const url of [`http://${APP_HOST}/health`, `http://${APP_HOST}/experiments`]) {
      const r = await sendRaw(
        { host: '127.0.0.1', port },
        rawRequest('GET', '/.gatehouse/auth', '127.0.0.1', { 'x-original-url': url, 'x-original-method': 'GET' }, bob.cookieValue),
      );
      const res = r.responses[0]!;
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text()).error).toBe('GH_FORBIDDEN');
      expect(res.header('x-forwarded-user')).toBeUndefined();
      expect(res.header('x-gatehouse-signin')).toBeUndefined();
    }
  });
});
