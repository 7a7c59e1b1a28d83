// Session cookie tossing, fixation, logout CSRF and cross-site WebSocket use: every row of
// session-tossing.cases.tsv against a real Gatehouse with Secure __Host- cookies and a Redis store
// (sessions of the victim alice and the attacker bob are live on it), a recording upstream, and —
// for sign-ins — the real demo IdP. Requests go over raw sockets so every Cookie byte is exact.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { startOidcSetup, USERS } from '../support/oidc.ts';
import { RawConnection, unescapeBytes, type RawResponse } from '../support/raw-http.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const N = '__Host-gatehouse';
const SECRET = 'tossing-suite-session-secret-0123456789abcdef';
const OLD_SECRET = 'tossing-suite-previous-secret-9876543210fedcba';
const OTHER_SECRET = 'tossing-suite-other-deployment-secret-0a1b2c3d4e';
const ALICE = { user: 'alice@corp.example', email: 'alice@corp.example', groups: ['ml-admins'], idp: 'corp', method: 'test' };
const BOB = { user: 'bob@corp.example', email: 'bob@corp.example', groups: [], idp: 'corp', method: 'test' };

interface Case {
  readonly id: string;
  readonly kind: 'identity' | 'logout' | 'websocket' | 'fixation' | 'signin' | 'config';
  readonly args: string;
  readonly expect: string;
  readonly source: string;
}

function loadCases(): Case[] {
  const text = readFileSync(new URL('./session-tossing.cases.tsv', import.meta.url), 'utf8');
  const out: Case[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const cols = line.split('\t');
    if (cols.length !== 5) throw new Error(`session-tossing.cases.tsv: expected 5 columns, got ${cols.length}: ${line.slice(0, 60)}`);
    const [id, kind, args, exp, source] = cols as [string, Case['kind'], string, string, string];
    out.push({ id, kind, args, expect: exp, source });
  }
  return out;
}

const routes = (upstream: string) => [
  { name: 'app', path: '/app', upstream, allow: { authenticated: true } },
  { name: 'pub', path: '/', upstream, allow: { public: true } },
];

function sessionConfig(upstream: string, secret: string, prefix: string) {
  return {
    ...baseConfig(),
    session: { store: 'redis', redis: { url: redisUrl(), key_prefix: prefix }, secret, cookie: { secure: true } },
    routes: routes(upstream),
  };
}

interface Env {
  readonly up: TestUpstream;
  readonly gh: StartedGatehouse;
  readonly host: string;
  readonly prefix: string;
  readonly alice: { key: string; value: string };
  readonly bob: { key: string; value: string };
  /** Placeholder values, computed when a row first needs them. */
  value(name: string): Promise<string>;
}

async function startEnv(): Promise<Env> {
  const up = await startUpstream();
  const prefix = uniquePrefix();
  const gh = await startTestGatehouse(sessionConfig(up.url, SECRET, prefix));
  const sessions = gh.current().sessions;
  const a = await sessions.create(ALICE);
  const b = await sessions.create(BOB);
  const cache = new Map<string, string>();
  /** A session minted by another Gatehouse (its own secret and store prefix). */
  const mintedElsewhere = async (secret: string, pfx: string) => {
    const other = await startTestGatehouse(sessionConfig(up.url, secret, pfx));
    return (await other.current().sessions.create(ALICE)).cookieValue;
  };
  const compute: Record<string, () => Promise<string>> = {
    V: async () => a.cookieValue,
    A: async () => b.cookieValue,
    X: async () => `${a.cookieValue.split('.')[0]}.${'A'.repeat(22)}`,
    R: async () => {
      const r = await sessions.create(ALICE);
      await sessions.revoke(r.key);
      return r.cookieValue;
    },
    S: () => mintedElsewhere(OLD_SECRET, prefix),
    D: () => mintedElsewhere(OTHER_SECRET, uniquePrefix()),
    W: () => mintedElsewhere(SECRET, uniquePrefix()),
  };
  return {
    up,
    gh,
    prefix,
    host: new URL(gh.url).host,
    alice: { key: a.key, value: a.cookieValue },
    bob: { key: b.key, value: b.cookieValue },
    async value(name) {
      if (!cache.has(name)) cache.set(name, await compute[name]!());
      return cache.get(name)!;
    },
  };
}

/** Expand {N} {V} {A} {X} {R} {S} {D} {W} (and \xHH escapes) in a Cookie header template. */
async function cookieHeader(env: Env, template: string): Promise<string> {
  let s = unescapeBytes(template).replaceAll('{N}', N);
  for (const name of ['V', 'A', 'X', 'R', 'S', 'D', 'W']) if (s.includes(`{${name}}`)) s = s.replaceAll(`{${name}}`, await env.value(name));
  return s;
}

async function raw(url: string, request: string, untilAny = false): Promise<RawResponse> {
  const conn = await RawConnection.open(url);
  try {
    await conn.write(request);
    const responses = untilAny ? await conn.waitForAnyResponses(1) : (await conn.waitForClose()).responses;
    expect(responses.length, `no answer to ${request.split('\r\n')[0]}`).toBeGreaterThan(0);
    return responses[0]!;
  } finally {
    conn.close();
  }
}

const clearsSession = (res: RawResponse) => res.headerAll('set-cookie').some((c) => c.startsWith(`${N}=`) && /max-age=0/i.test(c));
/** Pairs named exactly `name` in a Cookie header (only SP and HTAB are whitespace, RFC 6265bis §5.6). */
const pairsNamed = (header: string, name: string) =>
  header
    .split(';')
    .map((p) => p.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((p) => p.slice(0, p.indexOf('=')).replace(/[ \t]+$/, '') === name);

async function identityRow(c: Case, env: Env): Promise<void> {
  const cookie = await cookieHeader(env, c.args);
  const before = env.up.seen.length;
  const res = await raw(
    env.gh.url,
    `GET /app/echo HTTP/1.1\r\nHost: ${env.host}\r\nAccept: application/json\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
  );
  const seen = env.up.seen.slice(before);
  const why = `${c.id} (${c.source}): ${res.status} ${res.text().slice(0, 120)}`;
  for (const s of seen) {
    const users = [s.headers['x-forwarded-user']].flat().filter(Boolean);
    if (c.expect !== 'attacker') expect(users, `${why}: the attacker's identity reached the upstream`).not.toContain(BOB.user);
    expect(pairsNamed(String(s.headers.cookie ?? ''), N), `${why}: the session cookie reached the upstream`).toEqual([]);
  }
  if (c.expect === 'victim' || c.expect === 'attacker') {
    expect(res.status, why).toBe(200);
    expect(
      seen.map((s) => s.headers['x-forwarded-user']),
      why,
    ).toEqual([(c.expect === 'victim' ? ALICE : BOB).user]);
  } else {
    expect(res.status, why).toBe(401);
    expect(seen, `${why}: an anonymous request reached the upstream`).toEqual([]);
    if (c.expect === 'anonymous+clear') expect(clearsSession(res), `${why}: the dead cookie is cleared`).toBe(true);
  }
}

async function csrfOf(env: Env, value: string): Promise<string> {
  const page = await raw(
    env.gh.url,
    `GET /.gatehouse/logout HTTP/1.1\r\nHost: ${env.host}\r\nAccept: text/html\r\nCookie: ${N}=${value}\r\nConnection: close\r\n\r\n`,
  );
  const m = /name="csrf" value="([^"]+)"/.exec(page.text());
  expect(m, 'the sign-out page carries a CSRF token').not.toBeNull();
  return m![1]!;
}

async function logoutRow(c: Case, env: Env): Promise<void> {
  let rest = c.args;
  let cookie = `${N}=${env.alice.value}`;
  const ci = rest.indexOf(' cookie=');
  if (ci !== -1) {
    const given = rest.slice(ci + 8);
    cookie = given === '-' ? '' : await cookieHeader(env, given);
    rest = rest.slice(0, ci);
  }
  if (rest.includes('{CSRF}')) rest = rest.replaceAll('{CSRF}', await csrfOf(env, env.alice.value));
  if (rest.includes('{CSRF_A}')) rest = rest.replaceAll('{CSRF_A}', await csrfOf(env, env.bob.value));
  const [verb = 'GET', ...more] = rest.split(' ');
  const query = more[0]?.startsWith('?') ? more.shift()! : '';
  const body = more.join(' ');
  const method = verb === 'POST-JSON' ? 'POST' : verb;
  const type = verb === 'POST-JSON' ? 'application/json' : 'application/x-www-form-urlencoded';
  const head = `${method} /.gatehouse/logout${query} HTTP/1.1\r\nHost: ${env.host}\r\nAccept: text/html\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}`;
  const framing = method === 'GET' || method === 'HEAD' ? '' : `Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  const conn = await RawConnection.open(env.gh.url);
  let res: RawResponse;
  try {
    await conn.write(`${head}${framing}Connection: close\r\n\r\n${framing ? body : ''}`, [method]);
    res = (await conn.waitForClose()).responses[0]!;
  } finally {
    conn.close();
  }
  const why = `${c.id} (${c.source}): ${res.status} ${res.text().slice(0, 120)}`;
  const alive = (await env.gh.current().sessions.store.get(env.alice.key)) !== undefined;
  if (c.expect === 'kept') {
    expect(alive, `${why}: alice's session ended`).toBe(true);
    expect(clearsSession(res), `${why}: the answer removes alice's cookie from her browser`).toBe(false);
  } else {
    expect(res.status, why).toBe(303);
    expect(alive, why).toBe(false);
    expect(clearsSession(res), why).toBe(true);
  }
}

async function websocketRow(c: Case, env: Env): Promise<void> {
  let upgrades = 0;
  env.up.server.on('upgrade', () => upgrades++);
  const extra =
    c.args === '-'
      ? []
      : (await cookieHeader(env, c.args)).replaceAll('{ORIGIN}', `http://${env.host}`).replaceAll('{HOST}', env.host).split('\r\n');
  const lines = [
    extra.some((l) => /^host:/i.test(l)) ? undefined : `Host: ${env.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    extra.some((l) => /^cookie:/i.test(l)) ? undefined : `Cookie: ${N}=${env.alice.value}`,
    ...extra,
  ].filter((l): l is string => l !== undefined);
  const res = await raw(env.gh.url, `GET /app/ws HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, true);
  const why = `${c.id} (${c.source}): ${res.status} ${res.text().slice(0, 120)}`;
  if (c.expect === 'open') {
    expect(res.status, why).toBe(101);
    expect(upgrades, why).toBe(1);
  } else {
    expect(res.status, why).toBeGreaterThanOrEqual(400);
    expect(upgrades, `${why}: the upgrade reached the upstream`).toBe(0);
  }
}

async function oidcEnv() {
  const up = await startUpstream();
  const setup = await startOidcSetup(up.url, { session: { cookie: { secure: true } }, routes: routes(up.url) });
  return { setup, base: setup.gh.url };
}

async function fixationRow(c: Case): Promise<void> {
  const { setup, base } = await oidcEnv();
  const sessions = setup.gh.current().sessions;
  const planted = c.args
    .replaceAll('{N}', N)
    .replaceAll('{A}', (await sessions.create({ ...BOB, user: 'bob@example.com' })).cookieValue)
    .replaceAll('{V}', (await sessions.create({ ...ALICE, user: 'alice@example.com' })).cookieValue)
    .replaceAll('{X}', `${'B'.repeat(43)}.${'A'.repeat(22)}`);
  const browser = new TestBrowser();
  const [name, value] = [planted.slice(0, planted.indexOf('=')), planted.slice(planted.indexOf('=') + 1)];
  browser.jar.store(base, [`${name}=${value}`]);
  const page = await browser.go(`${base}/.gatehouse/login?rd=/app/start`, USERS.alice);
  const why = `${c.id} (${c.source})`;
  expect(page.status, why).toBe(200);
  const now = browser.jar.get(base, N);
  expect(now, `${why}: a session cookie after sign-in`).toBeDefined();
  if (name === N) expect(now, `${why}: the planted value survived the sign-in`).not.toBe(value);
  const who = async (v: string) => {
    const r = await sessions.lookup(v);
    return r.state === 'active' ? r.record.user : undefined;
  };
  expect(await who(now!), why).toBe('alice@example.com');
  // Whatever an attacker could have planted (a forged value, their own session) is not alice's
  // session now. (Her own earlier session, also rotated away, may live on until it times out.)
  if (!c.args.includes('{V}')) expect(await who(value), `${why}: the planted value became alice's session`).not.toBe('alice@example.com');
  if (c.args.includes('{A}')) expect(await who(value), `${why}: the attacker's own session changed`).toBe('bob@example.com');
}

async function signinRow(c: Case): Promise<void> {
  const { base } = await oidcEnv();
  const browser = new TestBrowser();
  const page = await browser.go(`${base}/app/start`, USERS.alice);
  expect(page.status).toBe(200);
  const set = page.hops.flatMap((h) => h.setCookies).filter((s) => s.startsWith(`${N}=`) && !/max-age=0/i.test(s));
  expect(set, `${c.id}: one session cookie set`).toHaveLength(1);
  const attrs = set[0]!.split(';').map((a) => a.trim().toLowerCase());
  expect(attrs).toEqual(expect.arrayContaining(['path=/', 'httponly', 'secure', 'samesite=lax']));
  expect(
    attrs.some((a) => a.startsWith('domain=')),
    `${c.id}: a __Host- cookie with Domain`,
  ).toBe(false);
}

function configRow(c: Case): void {
  const raw = { ...baseConfig(), session: { store: 'memory', secret: SECRET, cookie: JSON.parse(c.args) as object } };
  const [kind, arg] = [c.expect.slice(0, c.expect.indexOf(':')), c.expect.slice(c.expect.indexOf(':') + 1)];
  if (kind === 'refused') {
    expect(() => compileConfig(raw), `${c.id} (${c.source})`).toThrow(arg);
  } else {
    expect(compileConfig(raw).config.session.cookie.name, `${c.id} (${c.source})`).toBe(arg);
  }
}

const cases = loadCases();

describe('session cookie tossing, fixation, logout CSRF, cross-site WebSockets (session-tossing.cases.tsv)', () => {
  it('the case table is well-formed and cites a source on every row', () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    const expects: Record<Case['kind'], RegExp> = {
      identity: /^(victim|attacker|anonymous|anonymous\+clear)$/,
      logout: /^(kept|ended)$/,
      websocket: /^(open|refused)$/,
      fixation: /^rotated$/,
      signin: /^host-attributes$/,
      config: /^(refused|name):\S+$/,
    };
    for (const c of cases) {
      expect(Object.keys(expects), c.id).toContain(c.kind);
      expect(c.expect, c.id).toMatch(expects[c.kind]);
      expect(c.source.trim(), c.id).not.toBe('');
    }
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    if (c.kind === 'config') return configRow(c);
    if (c.kind === 'fixation') return fixationRow(c);
    if (c.kind === 'signin') return signinRow(c);
    const env = await startEnv();
    if (c.kind === 'identity') return identityRow(c, env);
    if (c.kind === 'logout') return logoutRow(c, env);
    return websocketRow(c, env);
  });
});
