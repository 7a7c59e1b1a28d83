// Host confusion (issue 11: "Host is not validated", "rd may name any port of a served host
// name"): every Host and X-Forwarded-Host spelling is either refused (400 GH_BAD_HOST) or read as
// one canonical authority, and nothing Gatehouse builds from it — X-Forwarded-Host and the Host
// of a preserve_host route upstream, Location, the OIDC redirect_uri, the logout
// post_logout_redirect_uri, the return URL offered after sign-in — names anything but a
// configured host on a served port.
//
// Rows are in host-confusion.cases.tsv. Four real Gatehouses (untrusted / trusted peer, with and
// without a host-less catch-all route) share one real OpenID provider (the demo IdP), one Redis
// and one recording upstream; requests go over raw sockets so every Host spelling arrives as
// written.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoIdp, type DemoIdp } from '../../src/demo/idp.ts';
import { startDecodingUpstream, type DecodedRequest, type DecodingUpstream } from '../support/decoding-upstream.ts';
import { freePort } from '../support/ports.ts';
import { sendRaw, type RawResponse } from '../support/raw-http.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { sessionCookie } from '../support/signed-in.ts';
import { startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';

// ---- the cases ----

type Outcome = 'ok' | 'unrouted' | 'bad-host' | '400';
const OUTCOMES: readonly string[] = ['ok', 'unrouted', 'bad-host', '400'];

interface Case {
  readonly id: string;
  readonly kind: 'host' | 'target' | 'rd';
  readonly value: string;
  readonly extra: string;
  readonly expect: string;
  readonly cause: string;
  readonly source: string;
}

function loadCases(file: URL): Case[] {
  const out: Case[] = [];
  const ids = new Set<string>();
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line === '' || line.startsWith('#')) return;
      const f = line.split('\t');
      const [id, kind, value, extra, expect, cause, source] = f as [string, Case['kind'], string, string, string, string, string];
      const pair = expect.split('/');
      const ok =
        f.length === 7 &&
        !ids.has(id) &&
        source !== '' &&
        (kind === 'rd'
          ? expect === 'keep' || expect === 'drop'
          : (kind === 'host' || kind === 'target') && pair.length === 2 && pair.every((p) => OUTCOMES.includes(p)));
      if (!ok)
        throw new Error(`host-confusion.cases.tsv:${i + 1}: want "id kind value extra expect cause source", got ${JSON.stringify(line)}`);
      ids.add(id);
      out.push({ id, kind, value, extra, expect, cause, source });
    });
  return out;
}

const CASES = loadCases(new URL('./host-confusion.cases.tsv', import.meta.url));

// ---- the deployments under attack ----

interface Variant {
  readonly name: string;
  /** The client's address (127.0.0.1) is in server.trusted_proxies: X-Forwarded-Host is believed. */
  readonly trusted: boolean;
  /** A route without a host catches every other host. */
  readonly catchAll: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'untrusted peer', trusted: false, catchAll: false },
  { name: 'untrusted peer, host-less route', trusted: false, catchAll: true },
  { name: 'trusted proxy', trusted: true, catchAll: false },
  { name: 'trusted proxy, host-less route', trusted: true, catchAll: true },
];

const CLIENT_ID = 'host-confusion';
const CLIENT_SECRET = 'host-confusion-client-secret';
const SECRET = 'host-confusion-session-secret-0123456789';
const CONFIGURED_NAMES = ['served.test', 'kept.test', '127.0.0.1'];
const WILDCARD_SUFFIX = '.wild.test';

function configFor(v: Variant, port: number, issuer: string, upstream: string) {
  const provider = (id: string) => ({
    id,
    type: 'oidc',
    issuer,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    scopes: ['openid', 'email', 'profile', 'groups'],
  });
  const privateRule = { path: '/private/**', allow: { authenticated: true } };
  return {
    log_level: 'silent',
    server: {
      listen: `127.0.0.1:${port}`,
      public_url: `http://127.0.0.1:${port}`,
      shutdown_timeout: '1s',
      ...(v.trusted ? { trusted_proxies: ['127.0.0.1'] } : {}),
    },
    admin: { listen: '127.0.0.1:0' },
    session: { store: 'redis', redis: { url: redisUrl(), key_prefix: uniquePrefix() }, secret: SECRET, cookie: { secure: false } },
    identity_providers: [provider('corp'), provider('corp2')],
    routes: [
      { name: 'served', host: 'served.test', path: '/', upstream, allow: { public: true }, rules: [privateRule] },
      { name: 'kept', host: 'kept.test', path: '/', upstream, preserve_host: true, allow: { public: true } },
      { name: 'wild', host: `*${WILDCARD_SUFFIX}`, path: '/', upstream, allow: { public: true } },
      ...(v.catchAll ? [{ name: 'any', path: '/', upstream, allow: { public: true }, rules: [privateRule] }] : []),
    ],
  };
}

interface Running {
  readonly variant: Variant;
  readonly gh: StartedGatehouse;
  readonly port: number;
  readonly other: number;
}

let idp: DemoIdp;
let upstream: DecodingUpstream;
const running: Running[] = [];

beforeAll(async () => {
  upstream = await startDecodingUpstream({ autoClose: false });
  // The IdP never sees a browser here (only the URLs Gatehouse builds for it are checked), so its
  // client registration need not know the ports Gatehouse ends up on.
  idp = await startDemoIdp({
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: ['http://127.0.0.1/.gatehouse/oidc/corp/callback'] }],
  });
  for (const variant of VARIANTS) {
    // public_url must name the port before it is bound: a port picked free can be taken by another
    // test process in between, so try again with another one (at most five times).
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const gh = await startTestGatehouse(configFor(variant, port, idp.issuer, upstream.url), { keepRunning: true });
        for (const id of ['corp', 'corp2']) await gh.current().providers.oidc.get(id)!.ready();
        running.push({ variant, gh, port, other: port === 9999 ? 9998 : 9999 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 5) throw err;
      }
    }
  }
}, 60_000);

afterAll(async () => {
  for (const r of running) await r.gh.shutdown();
  await idp?.close();
  await upstream?.close();
});

// ---- what may appear where ----

/** A configured host (route host, wildcard match, public_url host), lower-case, on no port but public_url's or 80. */
function isServedAuthority(authority: string, r: Running): boolean {
  const m = /^([a-z0-9._-]+)(?::([0-9]+))?$/.exec(authority);
  if (!m) return false;
  const [, host = '', port] = m;
  const named =
    CONFIGURED_NAMES.includes(host) || (host.endsWith(WILDCARD_SUFFIX) && host.length > WILDCARD_SUFFIX.length && !host.includes('..'));
  return named && (port === undefined || port === String(r.port) || port === '80');
}

/** A URL Gatehouse built for a browser or the IdP: same scheme as public_url, a served authority. */
function urlProblem(what: string, url: string, r: Running): string | undefined {
  if (!URL.canParse(url)) return `${what} ${JSON.stringify(url)} is not a URL`;
  const u = new URL(url);
  if (u.protocol !== 'http:' || !isServedAuthority(u.host, r) || u.username !== '' || u.password !== '')
    return `${what} ${JSON.stringify(url)} names an origin Gatehouse does not serve`;
  return undefined;
}

/** Everything wrong with a Location header. */
function locationProblems(res: RawResponse | undefined, r: Running): string[] {
  const location = res?.header('location');
  if (location === undefined) return [];
  if (location.startsWith('/')) {
    return /^\/[/\\]/.test(location) ? [`Location ${JSON.stringify(location)} is protocol-relative`] : [];
  }
  if (!URL.canParse(location)) return [`Location ${JSON.stringify(location)} is not a URL`];
  const u = new URL(location);
  if (u.origin === new URL(idp.issuer).origin) {
    // The IdP: what matters is where it is asked to send the browser back.
    const out: string[] = [];
    for (const p of ['redirect_uri', 'post_logout_redirect_uri']) {
      const v = u.searchParams.get(p);
      const problem = v === null ? undefined : urlProblem(p, v, r);
      if (problem) out.push(problem);
    }
    return out;
  }
  const problem = urlProblem('Location', location, r);
  return problem ? [problem] : [];
}

// ---- requests ----

let sequence = 0;

function fill(s: string, r: Running): string {
  return s
    .replaceAll('{port}', String(r.port))
    .replaceAll('{other}', String(r.other))
    .replaceAll('{label64}', 'a'.repeat(64))
    .replaceAll('{long253}', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`)
    .replaceAll('{long256}', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(64)}`)
    .replace(/\\x([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

interface Sent {
  readonly response: RawResponse | undefined;
  readonly status: number | undefined;
  readonly forwarded: DecodedRequest | undefined;
  readonly json: { error?: string } | undefined;
  readonly request: string;
}

interface Shape {
  readonly method?: string;
  readonly target: string;
  /** Host field values ([] = none). */
  readonly hosts: readonly string[];
  readonly http10?: boolean;
  readonly xfh?: string | undefined;
  readonly browser?: boolean;
  readonly cookie?: string | undefined;
  readonly body?: string;
}

async function send(r: Running, s: Shape): Promise<Sent> {
  const caseId = `host-${sequence++}`;
  const method = s.method ?? 'GET';
  const lines = [
    ...s.hosts.map((h) => `Host: ${h}`),
    ...(s.xfh !== undefined ? [`X-Forwarded-Host: ${s.xfh}`] : []),
    ...(s.browser
      ? ['Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'Sec-Fetch-Mode: navigate']
      : ['Accept: application/json']),
    ...(s.cookie ? [`Cookie: ${s.cookie}`] : []),
    ...(s.body !== undefined ? ['Content-Type: application/x-www-form-urlencoded', `Content-Length: ${Buffer.byteLength(s.body)}`] : []),
    `X-Case-Id: ${caseId}`,
    'Connection: close',
  ];
  const head = `${method} ${s.target} HTTP/1.${s.http10 ? 0 : 1}\r\n${lines.join('\r\n')}\r\n\r\n`;
  const result = await sendRaw(r.gh.url, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(s.body ?? '')]), {
    timeoutMs: 20_000,
    methods: [method],
  });
  const response = result.responses.at(-1);
  let json: { error?: string } | undefined;
  try {
    json = JSON.parse(response?.text() ?? '') as { error?: string };
  } catch {
    json = undefined;
  }
  return {
    response,
    status: response?.status,
    forwarded: upstream.byCase(caseId),
    json,
    request: JSON.stringify(head.split('\r\n').filter((l) => !l.startsWith('X-Case-Id'))),
  };
}

/** What the outcome of a request was, in the terms of the `expect` column. */
function outcomeOf(s: Sent): Outcome | string {
  if (s.forwarded) return 'ok';
  if (s.status === 400) return s.json?.error === 'GH_BAD_HOST' ? 'bad-host' : '400';
  if (s.status === 404 && s.json?.error === 'GH_NO_ROUTE') return 'unrouted';
  return `status ${s.status} ${JSON.stringify(s.json)}`;
}

/** The invariant for anything forwarded: only canonical configured authorities reach the upstream. */
function forwardedProblems(s: Sent, r: Running, clientXfh: string | undefined): string[] {
  const f = s.forwarded;
  if (!f) return [];
  const out: string[] = [];
  const xfh = f.headers['x-forwarded-host'];
  if (xfh !== undefined && (typeof xfh !== 'string' || !isServedAuthority(xfh, r)))
    out.push(`X-Forwarded-Host upstream is ${JSON.stringify(xfh)}, not a configured host on a served port`);
  if (!r.variant.trusted && clientXfh !== undefined && xfh === clientXfh && !isServedAuthority(clientXfh, r))
    out.push(`the client's X-Forwarded-Host ${JSON.stringify(clientXfh)} reached the upstream from an untrusted peer`);
  const host = f.headers.host;
  if (host !== new URL(upstream.url).host && (host === undefined || !isServedAuthority(host, r) || host !== xfh)) {
    out.push(
      `Host upstream (preserve_host) is ${JSON.stringify(host)}, not the canonical configured authority (X-Forwarded-Host ${JSON.stringify(xfh)})`,
    );
  }
  return out;
}

interface HostShape {
  readonly hosts: readonly string[];
  readonly http10: boolean;
  readonly xfh: string | undefined;
}

function hostShape(c: Case, r: Running): HostShape {
  const value = c.kind === 'host' ? c.value : c.extra;
  const xfh = c.kind === 'host' && c.extra !== '-' ? fill(c.extra, r) : undefined;
  if (value === '-') return { hosts: [], http10: false, xfh };
  if (value === '<http/1.0>') return { hosts: [], http10: true, xfh };
  return { hosts: fill(value, r).split('|'), http10: false, xfh };
}

/** Every problem with one host or target row on one deployment. */
async function hostRowProblems(c: Case, r: Running): Promise<string[]> {
  const out: string[] = [];
  const shape = hostShape(c, r);
  const target = c.kind === 'target' ? fill(c.value, r) : '/probe';
  const expected = (c.expect.split('/') as [Outcome, Outcome])[r.variant.trusted ? 1 : 0];
  const at = (what: string, s: Sent) => `[${r.variant.name}] ${what} ${s.request}`;

  // 1. The request itself (an API client): refused as the row says, or forwarded canonically.
  const probe = await send(r, { ...shape, target });
  const got = outcomeOf(probe);
  const want = expected === 'unrouted' && r.variant.catchAll ? 'ok' : expected;
  // "400" asks for any 400 (the RFC's answer), whichever code Gatehouse gives it.
  const matches = got === want || (want === '400' && got === 'bad-host');
  if (!matches) out.push(`${at('probe', probe)}: want ${want}${expected !== want ? ' (host-less route)' : ''}, got ${got}`);
  out.push(...forwardedProblems(probe, r, shape.xfh).map((p) => `${at('probe', probe)}: ${p}`));
  out.push(...locationProblems(probe.response, r).map((p) => `${at('probe', probe)}: ${p}`));

  // 2. A browser without a session on a protected path: the sign-in redirect.
  const privateTarget = c.kind === 'target' ? target : '/private/x';
  const nav = await send(r, { ...shape, target: privateTarget, browser: true });
  out.push(...locationProblems(nav.response, r).map((p) => `${at('sign-in redirect', nav)}: ${p}`));
  if (got !== 'ok' && got !== 'unrouted' && nav.forwarded)
    out.push(`${at('sign-in redirect', nav)}: forwarded although the same Host was refused`);
  if (c.kind === 'target') return out;

  // 3. Starting a sign-in: the redirect_uri sent to the IdP.
  const login = await send(r, { ...shape, target: '/.gatehouse/login?idp=corp&rd=%2Fx', browser: true });
  out.push(...locationProblems(login.response, r).map((p) => `${at('login', login)}: ${p}`));
  if (want === 'ok' && (login.status !== 302 || !login.response?.header('location')?.startsWith(idp.issuer)))
    out.push(`${at('login', login)}: want a redirect to the IdP, got ${login.status}`);

  // 4. Signing out: the post_logout_redirect_uri sent to the IdP.
  const cookie = await sessionCookie(r.gh, { user: 'someone@example.com', groups: ['users'] });
  const page = await send(r, { ...shape, target: '/.gatehouse/logout', browser: true, cookie });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.response?.text() ?? '')?.[1];
  if (want === 'ok' && csrf === undefined) out.push(`${at('logout page', page)}: no sign-out form (status ${page.status})`);
  if (csrf !== undefined) {
    const logout = await send(r, {
      ...shape,
      method: 'POST',
      target: '/.gatehouse/logout',
      browser: true,
      cookie,
      body: `csrf=${encodeURIComponent(csrf.replaceAll('&amp;', '&'))}`,
    });
    out.push(...locationProblems(logout.response, r).map((p) => `${at('logout', logout)}: ${p}`));
    if (want === 'ok' && (logout.status !== 303 || !logout.response?.header('location')?.startsWith(idp.issuer)))
      out.push(
        `${at('logout', logout)}: want a redirect to the IdP's end-session endpoint, got ${logout.status} ${logout.response?.header('location')}`,
      );
  }
  return out;
}

/** The return URL the IdP chooser offers for `rd` (the one the sign-in would use). */
async function offeredReturnUrl(r: Running, rd: string): Promise<string | undefined> {
  const s = await send(r, { target: `/.gatehouse/login?rd=${encodeURIComponent(rd)}`, hosts: [`served.test:${r.port}`], browser: true });
  const href = /href="(\/\.gatehouse\/login\?idp=corp&amp;rd=[^"]*)"/.exec(s.response?.text() ?? '')?.[1];
  if (!href) return undefined;
  return new URLSearchParams(href.replaceAll('&amp;', '&').split('?')[1]).get('rd') ?? undefined;
}

describe('host confusion (host-confusion.cases.tsv)', () => {
  it('has cases of every kind, each with a source', () => {
    expect(CASES.filter((c) => c.kind === 'host').length).toBeGreaterThanOrEqual(50);
    expect(CASES.filter((c) => c.kind === 'target').length).toBeGreaterThanOrEqual(5);
    expect(CASES.filter((c) => c.kind === 'rd').length).toBeGreaterThanOrEqual(20);
  });

  const hostCases = CASES.filter((c) => c.kind !== 'rd');
  it.each(
    hostCases.map(
      (c) =>
        [
          `${c.id} ${c.kind} ${JSON.stringify(c.value)}${c.extra !== '-' ? ` / ${JSON.stringify(c.extra)}` : ''} (${c.expect}; ${c.cause}; ${c.source})`,
          c,
        ] as const,
    ),
  )('%s', async (_name, c) => {
    const problems = (await Promise.all(running.map((r) => hostRowProblems(c, r)))).flat();
    expect(problems.join('\n'), `${c.id}: ${c.cause} — ${c.source}`).toBe('');
  });

  const rdCases = CASES.filter((c) => c.kind === 'rd');
  it.each(rdCases.map((c) => [`${c.id} rd=${c.value} (${c.expect}; ${c.cause}; ${c.source})`, c] as const))('%s', async (_name, c) => {
    const problems: string[] = [];
    for (const r of running) {
      const rd = fill(c.value, r);
      const want = c.expect === 'drop' ? '/' : rd.startsWith('/') ? rd : new URL(rd).href;
      const offered = await offeredReturnUrl(r, rd);
      if (offered !== want)
        problems.push(
          `[${r.variant.name}] GET /.gatehouse/login?rd=${encodeURIComponent(rd)} (Host: served.test:${r.port}): the sign-in would return to ${JSON.stringify(offered)}, want ${JSON.stringify(want)}`,
        );
    }
    expect(problems.join('\n'), `${c.id}: ${c.cause} — ${c.source}`).toBe('');
  });
});
