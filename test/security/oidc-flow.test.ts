// OIDC sign-in flow abuse: every row of oidc-flow.cases.tsv runs one scenario against the real demo
// IdP (oidc-provider) and a Gatehouse with __Host- cookies, through scripted browsers with their own
// cookie jars. A row passes when the decisive step ends as the row says — refused without creating
// a session or changing who the browser is signed in as, signed in and sent to the right place, or
// (for the authorization request) carrying exactly Gatehouse's own parameters.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser-http.ts';
import { CLIENT_ID, CLIENT_SECRET, startOidcSetup, USERS, type OidcSetup } from '../support/oidc.ts';
import { startTamperSetup } from '../support/tamper-idp.ts';
import { startUpstream } from '../support/upstream.ts';

const SESSION = '__Host-gatehouse';
const LOGIN = '__Host-gatehouse-login';
const JSON_ACCEPT = { accept: 'application/json' };
const isCallback = (u: string) => u.includes('/.gatehouse/oidc/');

interface Case {
  readonly id: string;
  readonly scenario: string;
  readonly args: string;
  readonly expect: string;
  readonly source: string;
}

function loadCases(): Case[] {
  const text = readFileSync(new URL('./oidc-flow.cases.tsv', import.meta.url), 'utf8');
  const out: Case[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const cols = line.split('\t');
    if (cols.length !== 5) throw new Error(`oidc-flow.cases.tsv: expected 5 columns, got ${cols.length}: ${line.slice(0, 60)}`);
    const [id, scenario, args, exp, source] = cols as [string, string, string, string, string];
    out.push({ id, scenario, args, expect: exp, source });
  }
  return out;
}

interface Env {
  readonly setup: OidcSetup;
  readonly base: string;
}

async function startEnv(): Promise<Env> {
  const up = await startUpstream();
  const setup = await startOidcSetup(up.url, {
    // Secure cookies keep the __Host- names (the jar here does not enforce Secure).
    session: { cookie: { secure: true } },
    extraProviders: (issuer) => [
      { id: 'other', type: 'oidc', issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scopes: ['openid', 'email'] },
    ],
    routes: [
      { name: 'app', path: '/app', upstream: up.url, allow: { authenticated: true }, idps: ['corp'] },
      { name: 'pub', path: '/', upstream: up.url, allow: { public: true }, idps: ['corp'] },
    ],
  });
  return { setup, base: setup.gh.url };
}

/** Every session in the store, by user (the demo users). */
async function sessionCount(env: Env): Promise<number> {
  let n = 0;
  for (const u of ['alice', 'bob', 'carol']) n += (await env.setup.gh.current().sessions.list(`${u}@example.com`)).length;
  return n;
}

async function whoIs(env: Env, browser: TestBrowser): Promise<string | undefined> {
  const r = await browser.fetch(`${env.base}/.gatehouse/userinfo`, { headers: JSON_ACCEPT });
  if (r.status !== 200) return undefined;
  return (JSON.parse(r.body) as { user: string }).user.replace('@example.com', '');
}

/** Sign in as `user` from `start` up to (not including) the callback; returns the callback URL. */
async function toCallback(env: Env, browser: TestBrowser, user: 'alice' | 'bob', start = '/app/start'): Promise<URL> {
  const page = await browser.go(`${env.base}${start}`, USERS[user], isCallback);
  expect(page.url, 'the sign-in reached the callback').toContain('/.gatehouse/oidc/corp/callback?');
  return new URL(page.url);
}

async function signedIn(env: Env, user: 'alice' | 'bob'): Promise<TestBrowser> {
  const b = new TestBrowser();
  const cb = await toCallback(env, b, user);
  expect((await b.fetch(cb.href)).status).toBe(302);
  expect(await whoIs(env, b)).toBe(user);
  return b;
}

interface Outcome {
  /** The decisive response. */
  readonly status: number;
  readonly body: string;
  readonly location: string | undefined;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly setCookies: string[];
  /** The browser whose identity the row judges. */
  readonly browser: TestBrowser;
  /** Sessions created by the decisive step. */
  readonly created: number;
  readonly authorize?: URL[];
  /** The scenario's own environment, when it built one (otherwise the row's). */
  readonly env?: Env;
}

/** Run the decisive request, counting the sessions it creates. */
async function decisive(
  env: Env,
  browser: TestBrowser,
  url: string,
  headers: Record<string, string> = JSON_ACCEPT,
): Promise<Omit<Outcome, 'authorize'>> {
  const before = await sessionCount(env);
  const r = await browser.fetch(url, { headers });
  return {
    status: r.status,
    body: r.body,
    location: r.location,
    headers: r.headers,
    setCookies: r.hops[0]!.setCookies,
    browser,
    created: (await sessionCount(env)) - before,
  };
}

function edit(cb: URL, args: string): URL {
  const u = new URL(cb.href);
  const orig = cb.searchParams;
  const sub = (v: string) =>
    v
      .replaceAll('{STATE_UPPER}', orig.get('state')!.toUpperCase())
      .replaceAll('{STATE_PREFIX}', orig.get('state')!.slice(0, -1))
      .replaceAll('{STATE}', orig.get('state')!)
      .replaceAll('{CODE}', orig.get('code')!)
      .replaceAll('{ISS_UPPER}', orig.get('iss')!.toUpperCase())
      .replaceAll('{ISS}', orig.get('iss')!);
  for (const e of args.split(';')) {
    const [op, rest = ''] = [e.slice(0, e.indexOf(':')), e.slice(e.indexOf(':') + 1)];
    const eq = rest.indexOf('=');
    const name = eq === -1 ? rest : rest.slice(0, eq);
    const value = eq === -1 ? '' : decodeURIComponent(sub(rest.slice(eq + 1)));
    if (op === 'del') u.searchParams.delete(name);
    else if (op === 'set') u.searchParams.set(name, value);
    else if (op === 'add') u.searchParams.append(name, value);
    else throw new Error(`unknown edit ${e}`);
  }
  return u;
}

/** The login cookie value a browser holds (its pending-sign-in binding). */
const loginCookieOf = (env: Env, b: TestBrowser) => b.jar.get(env.base, LOGIN);

type Scenario = (env: Env, args: string) => Promise<Outcome>;

const scenarios: Record<string, Scenario> = {
  async signin(env, args) {
    const b = new TestBrowser();
    const cb = await toCallback(env, b, 'alice', args === '-' ? '/app/start' : args);
    return { ...(await decisive(env, b, cb.href)) };
  },
  /** DESIGN.md second wave: /.gatehouse/* answers on every host, whether or not a route covers it. */
  async 'signin-app-only'() {
    const up = await startUpstream();
    const setup = await startOidcSetup(up.url, {
      session: { cookie: { secure: true } },
      routes: [{ name: 'app', path: '/app', upstream: up.url, allow: { authenticated: true } }],
    });
    const env = { setup, base: setup.gh.url };
    const b = new TestBrowser();
    const page = await b.go(`${env.base}/app/start`, USERS.alice, isCallback);
    expect(
      page.url,
      `sign-in with no route covering /.gatehouse/: stopped at ${page.url} (${page.status}) ${page.body.slice(0, 120)}`,
    ).toContain('/.gatehouse/oidc/corp/callback?');
    return { ...(await decisive(env, b, page.url)), env };
  },
  /**
   * A genuine, IdP-signed ID token from an earlier sign-in, replayed into a later one (a proxy
   * between Gatehouse and the IdP swaps the token endpoint's answer): its nonce is the old one.
   */
  async 'id-token-replay'() {
    const up = await startUpstream();
    const t = await startTamperSetup(up.url);
    const env: Env = { setup: { idp: t.idp, gh: t.gh, others: [] }, base: t.gh.url };
    let first: string | undefined;
    t.proxy.mutation = (token) => (first = token);
    const earlier = new TestBrowser();
    expect((await earlier.go(`${env.base}/one`, USERS.alice)).status).toBe(200);
    expect(first).toBeDefined();
    t.proxy.mutation = () => first!;
    const b = new TestBrowser();
    const page = await b.go(`${env.base}/two`, USERS.alice, isCallback);
    const out = await decisive(env, b, page.url);
    expect(t.proxy.stats.rewritten, 'the replayed token was delivered').toBe(2);
    // Refused at the claim comparison (nonce), not for a signature or transport problem.
    expect(out.body).toContain('CLAIM_COMPARISON');
    return { ...out, env };
  },
  async mutate(env, args) {
    const b = new TestBrowser();
    const cb = await toCallback(env, b, 'alice');
    return decisive(env, b, edit(cb, args).href);
  },
  async replay(env) {
    const b = new TestBrowser();
    const cb = await toCallback(env, b, 'alice');
    expect((await b.fetch(cb.href)).status).toBe(302);
    return decisive(env, b, cb.href);
  },
  async 'other-browser'(env, args) {
    const attacker = new TestBrowser();
    const cb = await toCallback(env, attacker, 'bob');
    const victim = args === 'signed-in' ? await signedIn(env, 'alice') : new TestBrowser();
    if (args === 'pending') await victim.go(`${env.base}/app/start`, undefined, (u) => !u.startsWith(env.base));
    if (args === 'pending') expect(loginCookieOf(env, victim)).toBeDefined();
    if (args.startsWith('tossed:')) {
      // What a cookie writer on a sibling host can plant: the attacker's binding, under a name
      // the browser lets a sibling set.
      victim.jar.store(env.base, [`${args.slice(7)}=${loginCookieOf(env, attacker)}`]);
    }
    return decisive(env, victim, cb.href);
  },
  async 'no-login-cookie'(env, args) {
    const b = new TestBrowser();
    const cb = await toCallback(env, b, 'alice');
    const genuine = loginCookieOf(env, b)!;
    const other = new TestBrowser();
    await other.go(`${env.base}/app/start`, undefined, (u) => !u.startsWith(env.base));
    const jar = b.jar.cookies.get(new URL(env.base).hostname)!;
    jar.delete(LOGIN);
    const headers: Record<string, string> = { ...JSON_ACCEPT };
    if (args === 'garbage') jar.set(LOGIN, 'garbage');
    if (args === 'other') jar.set(LOGIN, loginCookieOf(env, other)!);
    if (args === 'doubled') {
      // Two values for the binding's name (one of them genuine): trust neither.
      headers.cookie = `${LOGIN}=${loginCookieOf(env, other)!}; ${LOGIN}=${genuine}`;
    }
    return decisive(env, b, cb.href, headers);
  },
  async 'code-replay'(env) {
    const b = new TestBrowser();
    const first = await toCallback(env, b, 'alice');
    expect((await b.fetch(first.href)).status).toBe(302);
    const second = await toCallback(env, b, 'alice', '/.gatehouse/login?rd=/app/start');
    second.searchParams.set('code', first.searchParams.get('code')!);
    return decisive(env, b, second.href);
  },
  async 'code-injection'(env) {
    const victim = new TestBrowser();
    const own = await toCallback(env, victim, 'alice');
    const attacker = new TestBrowser();
    const theirs = await toCallback(env, attacker, 'bob');
    own.searchParams.set('code', theirs.searchParams.get('code')!);
    const out = await decisive(env, victim, own.href);
    expect(await env.setup.gh.current().sessions.list('bob@example.com'), 'no session for the attacker').toEqual([]);
    return out;
  },
  async 'cross-logins'(env) {
    const b = new TestBrowser();
    const first = await toCallback(env, b, 'alice');
    const second = await toCallback(env, b, 'alice', '/.gatehouse/login?rd=/app/other');
    first.searchParams.set('code', second.searchParams.get('code')!);
    return decisive(env, b, first.href);
  },
  async 'idp-error'(env, args) {
    const b = new TestBrowser();
    const stopped = await b.go(`${env.base}/app/start`, undefined, (u) => !u.startsWith(env.base));
    const auth = new URL(stopped.url);
    const q = args.replaceAll('{STATE}', auth.searchParams.get('state')!).replaceAll('{ISS}', encodeURIComponent(auth.origin));
    return decisive(env, b, `${env.base}/.gatehouse/oidc/corp/callback?${q}`);
  },
  async 'wrong-idp'(env, args) {
    const b = new TestBrowser();
    const cb = await toCallback(env, b, 'alice');
    cb.pathname = cb.pathname.replace('/oidc/corp/', `/oidc/${args}/`);
    return decisive(env, b, cb.href);
  },
  async path(env, args) {
    return decisive(env, new TestBrowser(), `${env.base}${args}`);
  },
  async authorize(env, args) {
    const b = new TestBrowser();
    const stopped = await b.go(`${env.base}${args}`, undefined, (u) => !u.startsWith(env.base));
    const out = { status: 302, body: '', location: stopped.url, headers: {}, setCookies: [], browser: b, created: 0 };
    return { ...out, authorize: [new URL(stopped.url)] };
  },
  async 'two-logins'(env) {
    const b = new TestBrowser();
    const leave = (u: string) => !u.startsWith(env.base);
    const one = await b.go(`${env.base}/app/one`, undefined, leave);
    const two = await b.go(`${env.base}/app/two`, undefined, leave);
    // Both pending sign-ins (two tabs) complete, each to its own page.
    const cb1 = new URL((await b.go(one.url, USERS.alice, isCallback)).url);
    const cb2 = new URL((await b.go(two.url, USERS.alice, isCallback)).url);
    const r1 = await b.fetch(cb1.href);
    const r2 = await b.fetch(cb2.href);
    expect([r1.status, r2.status]).toEqual([302, 302]);
    expect([r1.location, r2.location]).toEqual([`${env.base}/app/one`, `${env.base}/app/two`]);
    const out = {
      status: 302,
      body: '',
      location: r2.location,
      headers: r2.headers,
      setCookies: r2.hops[0]!.setCookies,
      browser: b,
      created: 0,
    };
    return { ...out, authorize: [new URL(one.url), new URL(two.url), cb1, cb2] };
  },
  async 'login-cookie'(env) {
    const b = new TestBrowser();
    const stopped = await b.go(`${env.base}/app/start`, undefined, (u) => !u.startsWith(env.base));
    const set = stopped.hops.flatMap((h) => h.setCookies).filter((c) => c.startsWith(`${LOGIN}=`));
    // Complete this (the only pending) sign-in.
    const cb = new URL((await b.go(stopped.url, USERS.alice, isCallback)).url);
    const out = await decisive(env, b, cb.href);
    return { ...out, setCookies: [...set, '--- callback ---', ...out.setCookies] };
  },
};

/** Scenarios that build their own environment. */
const OWN_ENV = new Set(['signin-app-only', 'id-token-replay']);

const AUTHORIZE_PARAMS = [
  'client_id',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
];

function checkAuthorize(env: Env, u: URL): void {
  const names = [...u.searchParams.keys()];
  expect([...names].sort(), `authorization parameters in ${u.search}`).toEqual(AUTHORIZE_PARAMS);
  expect(u.hash).toBe('');
  const p = u.searchParams;
  expect(p.get('client_id')).toBe(CLIENT_ID);
  expect(p.get('response_type')).toBe('code');
  expect(p.get('redirect_uri')).toBe(`${env.base}/.gatehouse/oidc/corp/callback`);
  expect(p.get('scope')).toBe('openid email profile groups');
  expect(p.get('code_challenge_method')).toBe('S256');
  for (const n of ['state', 'nonce', 'code_challenge']) expect(p.get(n), n).toMatch(/^[A-Za-z0-9_-]{43,}$/);
  expect(u.origin).toBe(env.setup.idp.issuer);
}

async function judge(c: Case, env: Env, o: Outcome): Promise<void> {
  const [kind, arg] = [c.expect.split(':')[0]!, c.expect.split(':').slice(1).join(':')];
  const why = `${c.id} (${c.source}): status ${o.status} ${o.body.slice(0, 160)}`;
  const sessionSet = o.setCookies.filter((s) => s.startsWith(`${SESSION}=`) && !/Max-Age=0/i.test(s));
  if (kind === 'refused' || kind === 'kept') {
    expect(o.status, why).toBe(400);
    expect((JSON.parse(o.body) as { error: string }).error, why).toBe('GH_LOGIN_FAILED');
    expect(o.created, `${why}: sessions created`).toBe(0);
    expect(sessionSet, `${why}: a session cookie was set`).toEqual([]);
    expect(await whoIs(env, o.browser), `${why}: who the browser is afterwards`).toBe(kind === 'kept' ? arg : undefined);
    // A failed sign-in is never a redirect anywhere.
    expect(o.location).toBeUndefined();
  } else if (kind === 'status') {
    expect(o.status, why).toBe(Number(arg));
    expect(o.created, why).toBe(0);
    expect(await whoIs(env, o.browser)).toBeUndefined();
  } else if (kind === 'signed-in' || kind === 'location') {
    expect(o.status, why).toBe(302);
    expect(o.created, why).toBe(1);
    expect(await whoIs(env, o.browser), why).toBe(kind === 'signed-in' ? arg : 'alice');
    if (kind === 'location') {
      const loc = new URL(o.location!);
      expect(loc.origin, why).toBe(env.base);
      expect(`${loc.pathname}${loc.search}${loc.hash}`, why).toBe(arg);
    }
    // The answer to the callback: nothing in it leaks the code (Referer, caches, the Location).
    expect(o.headers['referrer-policy'], why).toBe('no-referrer');
    expect(String(o.headers['cache-control']), why).toContain('no-store');
    expect(o.location, why).not.toMatch(/[?&](code|state|iss|id_token|access_token)=/);
  } else if (kind === 'clean') {
    checkAuthorize(env, o.authorize![0]!);
  } else if (kind === 'distinct') {
    const [a, b] = o.authorize!;
    checkAuthorize(env, a!);
    checkAuthorize(env, b!);
    for (const n of ['state', 'nonce', 'code_challenge']) expect(a!.searchParams.get(n), n).not.toBe(b!.searchParams.get(n));
    expect(await whoIs(env, o.browser)).toBe('alice');
  } else if (kind === 'attributes') {
    const sep = o.setCookies.indexOf('--- callback ---');
    const set = o.setCookies.slice(0, sep);
    expect(set.length, `${why}: one binding cookie set at login`).toBe(1);
    const attrs = set[0]!.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs[0]).toMatch(/^__host-gatehouse-login=[a-z0-9_-]{43}$/i);
    expect(attrs).toEqual(expect.arrayContaining(['path=/', 'httponly', 'secure', 'samesite=lax']));
    expect(
      attrs.some((a) => a.startsWith('domain=')),
      'no Domain',
    ).toBe(false);
    const maxAge = Number(attrs.find((a) => a.startsWith('max-age='))?.slice(8));
    expect(maxAge > 0 && maxAge <= 600, `Max-Age ${maxAge}`).toBe(true);
    // The callback completes the sign-in and clears the binding (issue 11 breach 4).
    const atCallback = o.setCookies.slice(sep + 1).filter((s) => s.startsWith(`${LOGIN}=`));
    expect(atCallback, `${why}: the callback clears the binding cookie`).toHaveLength(1);
    expect(atCallback[0]).toMatch(/Max-Age=0/i);
    expect(o.status).toBe(302);
  } else {
    throw new Error(`${c.id}: unknown expectation ${c.expect}`);
  }
}

const cases = loadCases();

describe('OIDC flow abuse (oidc-flow.cases.tsv)', () => {
  it('the case table is well-formed and cites a source on every row', () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const c of cases) {
      expect(Object.keys(scenarios), c.id).toContain(c.scenario);
      expect(c.expect, c.id).toMatch(/^(refused|clean|distinct|attributes|kept:\w+|signed-in:\w+|status:\d{3}|location:\/\S*)$/);
      expect(c.source.trim(), c.id).not.toBe('');
    }
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const env = OWN_ENV.has(c.scenario) ? undefined : await startEnv();
    const outcome = await scenarios[c.scenario]!(env!, c.args);
    await judge(c, outcome.env ?? env!, outcome);
  });
});
