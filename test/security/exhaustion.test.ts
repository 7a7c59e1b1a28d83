// Resource exhaustion suite (issue 11): pending sign-ins (rate per client, global bound across
// replicas, per browser, own capacity apart from sessions), slow clients (headers and bodies
// trickled or stalled: slowloris, R-U-Dead-Yet), upstream connection limits with a bounded queue,
// and Node's header limits — one test per row of exhaustion.cases.tsv. Everything is real: an
// in-process Gatehouse, real upstream sockets, the demo OpenID provider (oidc-provider), the test
// run's redis-server, raw TCP clients. Different client addresses come from binding the client
// socket to other loopback addresses (127.x.y.z). Limits are configured small (300 ms) so that cases
// end quickly; assertions are on outcomes (status, error code, closed connection, what the store
// holds, the audit record), with generous waits, never on durations.
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { request } from 'undici';
import { startDemoIdp } from '../../src/demo/idp.ts';
import { MAX_PENDING_PER_BROWSER } from '../../src/auth/login-state.ts';
import { clientKey, createLoginRateLimiter } from '../../src/auth/login.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { loadCases, type CaseRow } from '../support/case-table.ts';
import { CLIENT_ID, CLIENT_SECRET, USERS } from '../support/oidc.ts';
import { RawConnection, sendRaw, type RawResult } from '../support/raw-http.ts';
import { freePort } from '../support/ports.ts';
import { inspector, redisUrl, uniquePrefix } from '../support/redis.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { startSamlSetup } from '../support/saml.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const ROWS = loadCases(new URL('./exhaustion.cases.tsv', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECRET = 'exhaustion-suite-session-secret-0123456789abcdef';

// Small limits so every case ends quickly.
const FAST = { headers_timeout: '300ms', body_timeout: '300ms', body_min_rate: 1000 };

// ---------------------------------------------------------------------------------------------
// Audit trail: a file sink per Gatehouse, read back to check refused requests are recorded.

interface Audit {
  readonly config: object;
  records(): Record<string, any>[];
}

function auditFile(): Audit {
  const dir = mkdtempSync(join(tmpdir(), 'gh-exhaustion-audit-'));
  const file = join(dir, 'audit.ndjson');
  return {
    config: { sinks: [{ type: 'file', path: file, fsync: 'always' }], spool_dir: join(dir, 'spool') },
    records: () =>
      existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : [],
  };
}

/** Wait for a request record with this status and error code. */
async function expectAudited(audit: Audit, status: number, code: string): Promise<void> {
  await expect
    .poll(() => audit.records().some((r) => r.http?.response?.status_code === status && r.gatehouse?.error_code === code), {
      timeout: 10_000,
    })
    .toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Clients.

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One GET from the client address `ip` (any 127.0.0.0/8 address on this host). */
function get(url: string, o: { ip?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { agent: false, ...(o.ip ? { localAddress: o.ip } : {}), headers: { accept: 'application/json', ...o.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The n-th distinct client address (n ≥ 1). */
const clientIp = (n: number) => `127.${20 + (n >> 16)}.${(n >> 8) & 255}.${n & 255 || 1}`;

/** Run `fn` for 1..n with at most `width` at a time (gentle on a 2-core machine). */
async function inBatches<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 1; i <= n; i += width) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i + 1) }, (_, j) => fn(i + j)))));
  }
  return out;
}

const errorOf = (body: string | Buffer) => {
  try {
    return JSON.parse(body.toString()).error as string | undefined;
  } catch {
    return undefined;
  }
};

const HOST = 'Host: 127.0.0.1\r\n';

/** Open a raw connection and close it when the test ends. */
async function open(gh: StartedGatehouse): Promise<RawConnection> {
  const c = await RawConnection.open(gh.url, 30_000);
  onTestFinished(() => c.close());
  return c;
}

/** The only response on a closed connection must be `status` with `code`. */
function expectRefused(r: RawResult, status: number, code: string): void {
  expect(r.end).toBe('closed');
  expect(r.statuses).toEqual([status]);
  expect(errorOf(r.responses[0]!.body)).toBe(code);
}

// ---------------------------------------------------------------------------------------------
// Set-ups.

async function startProxy(
  o: { server?: object; routes?: (up: string) => object[]; upstream?: (req: IncomingMessage, res: ServerResponse) => boolean } = {},
) {
  const up = await startUpstream(o.upstream);
  const audit = auditFile();
  const base = baseConfig(up.url) as { server: object };
  const gh = await startTestGatehouse({
    ...base,
    server: { ...base.server, ...FAST, ...o.server },
    routes: o.routes ? o.routes(up.url) : [{ name: 'app', path: '/', upstream: up.url, allow: { public: true } }],
    audit: audit.config,
  });
  return { up, gh, audit };
}

interface LoginSetup {
  readonly gh: StartedGatehouse;
  readonly all: StartedGatehouse[];
  readonly audit: Audit;
  readonly up: TestUpstream;
  /** Redis key prefix (redis store only). */
  readonly prefix: string;
}

/** The demo IdP and `replicas` Gatehouses signing in against it, sharing one store when Redis. */
async function startLogin(o: { store: string; login?: object; memory?: object; replicas?: number }): Promise<LoginSetup> {
  const up = await startUpstream();
  const n = o.replicas ?? 1;
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const idp = await startDemoIdp({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: urls.map((u) => `${u}/.gatehouse/oidc/corp/callback`),
        post_logout_redirect_uris: urls.map((u) => `${u}/.gatehouse/logout`),
      },
    ],
  });
  onTestFinished(() => idp.close());
  const prefix = uniquePrefix();
  const audit = auditFile();
  const all = await Promise.all(
    ports.map((port, i) =>
      startTestGatehouse({
        log_level: 'silent',
        server: { listen: `127.0.0.1:${port}`, public_url: urls[i], shutdown_timeout: '1s' },
        admin: { listen: '127.0.0.1:0' },
        session: {
          store: o.store,
          ...(o.store === 'redis' ? { redis: { url: redisUrl(), key_prefix: prefix } } : {}),
          ...(o.memory ? { memory: o.memory } : {}),
          secret: SECRET,
          cookie: { secure: false },
          ...(o.login ? { login: o.login } : {}),
        },
        identity_providers: [
          {
            id: 'corp',
            type: 'oidc',
            issuer: idp.issuer,
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            scopes: ['openid', 'email', 'profile', 'groups'],
          },
        ],
        routes: [{ name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } }],
        audit: i === 0 ? audit.config : { sinks: [] },
      }),
    ),
  );
  for (const gh of all) await gh.current().providers.oidc.get('corp')!.ready();
  return { gh: all[0]!, all, audit, up, prefix };
}

const loginUrl = (gh: StartedGatehouse, rd = '/') => `${gh.url}/.gatehouse/login?rd=${encodeURIComponent(rd)}`;
const CALLBACK = '/.gatehouse/oidc/corp/callback';

/** Pending sign-in records Redis holds under `prefix`, whatever the key layout. */
async function pendingInRedis(prefix: string): Promise<number> {
  const r = inspector();
  let n = 0;
  for (const key of await r.keys(`${prefix}*`)) {
    if ((await r.type(key)) !== 'string') continue;
    const v = (await r.get(key)) ?? '';
    if (v.includes('"binding"') && v.includes('"redirectUri"')) n++;
  }
  return n;
}

/** Drive `browser` through the IdP up to (not into) the callback; the callback URL. */
async function toCallback(browser: TestBrowser, start: string): Promise<string> {
  const page = await browser.go(start, USERS.alice, (u) => new URL(u).pathname === CALLBACK);
  expect(new URL(page.url).pathname).toBe(CALLBACK);
  return page.url;
}

/** Finish a sign-in at its callback; the page it ends on. */
async function complete(browser: TestBrowser, callback: string) {
  return browser.go(callback);
}

// ---------------------------------------------------------------------------------------------
// Scenarios, by the `scenario` column.

type Scenario = (row: CaseRow) => Promise<void>;

const login: Record<string, Scenario> = {
  async 'login-rate'(row) {
    const rate = Number(row.arg);
    const s = await startLogin({ store: 'memory', login: { rate_per_minute: rate } });
    const replies = await inBatches(rate + 5, 1, () => get(loginUrl(s.gh), { ip: '127.0.3.1' }));
    const statuses = replies.map((r) => r.status);
    // A full bucket lets `rate` through; the refill during a slow run may add one or two.
    expect(statuses.filter((x) => x === 302).length).toBeGreaterThanOrEqual(rate);
    expect(statuses.filter((x) => x === 302).length).toBeLessThanOrEqual(rate + 2);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const r of refused) {
      expect(errorOf(r.body)).toBe('GH_TOO_MANY_LOGINS');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.headers.location).toBeUndefined();
    }
    await expectAudited(s.audit, 429, 'GH_TOO_MANY_LOGINS');
  },

  async 'login-rate-isolated'(row) {
    const rate = Number(row.arg);
    const s = await startLogin({ store: 'memory', login: { rate_per_minute: rate } });
    const first = await inBatches(rate + 3, 1, () => get(loginUrl(s.gh), { ip: '127.0.4.1' }));
    expect(first.at(-1)!.status).toBe(429);
    const other = await get(loginUrl(s.gh), { ip: '127.0.4.2' });
    expect(other.status).toBe(302);
  },

  async 'login-rate-ipv6'(row) {
    // The limiter itself: a running instance would need an IPv6 listener, which CI may lack.
    const rate = Number(row.arg);
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(clientKey('2001:0db8:0001:0002:0000:0000:0000:0001')).toBe(clientKey('2001:db8:1:2::ffff'));
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'));
    expect(clientKey('10.0.0.1')).not.toBe(clientKey('10.0.0.2'));
    const limiter = createLoginRateLimiter(rate);
    const t = 1_000_000;
    for (let i = 0; i < rate; i++) expect(limiter.take(`2001:db8:1:2::${i + 1}`, t)).toBe(0);
    expect(limiter.take('2001:db8:1:2::ffff', t)).toBeGreaterThan(0);
    expect(limiter.take('2001:db8:1:3::1', t)).toBe(0);
    // Refilled at rate per minute.
    expect(limiter.take('2001:db8:1:2::ffff', t + 60_000 / rate + 1)).toBe(0);
  },

  async 'login-cap'(row) {
    const max = 20;
    const s = await startLogin({ store: row.arg!, login: { max_pending: max, rate_per_minute: 1000 } });
    const replies = await inBatches(3 * max, 6, (i) => get(loginUrl(s.gh), { ip: clientIp(i) }));
    expect(replies.filter((r) => r.status === 302)).toHaveLength(max);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused).toHaveLength(2 * max);
    for (const r of refused) {
      expect(errorOf(r.body)).toBe('GH_TOO_MANY_LOGINS');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(600);
    }
    if (row.arg === 'redis') expect(await pendingInRedis(s.prefix)).toBeLessThanOrEqual(max);
    await expectAudited(s.audit, 429, 'GH_TOO_MANY_LOGINS');
  },

  async 'login-cap-replicas'(row) {
    const max = 20;
    const s = await startLogin({ store: 'redis', replicas: Number(row.arg), login: { max_pending: max, rate_per_minute: 1000 } });
    const replies = await inBatches(2 * max, 6, (i) => get(loginUrl(s.all[i % s.all.length]!), { ip: clientIp(i) }));
    expect(replies.filter((r) => r.status === 302)).toHaveLength(max);
    expect(replies.filter((r) => r.status === 429)).toHaveLength(max);
    expect(await pendingInRedis(s.prefix)).toBeLessThanOrEqual(max);
  },

  async 'login-saml'(row) {
    const up = await startUpstream();
    const rate = row.arg === 'rate';
    const login = rate ? { rate_per_minute: 5 } : { rate_per_minute: 1000, max_pending: 3 };
    const s = await startSamlSetup(up.url, {}, { session: { secret: SECRET, cookie: { secure: false }, login } });
    const replies = await inBatches(8, 1, (i) => get(loginUrl(s.gh), { ip: rate ? '127.0.5.1' : clientIp(i) }));
    const allowed = replies.filter((r) => r.status === 302);
    // A 302 goes to the IdP with a SAMLRequest; a refusal never does.
    expect(allowed.length).toBeGreaterThanOrEqual(rate ? 5 : 3);
    expect(allowed.length).toBeLessThanOrEqual(rate ? 6 : 3);
    for (const r of allowed) expect(String(r.headers.location)).toContain('SAMLRequest=');
    for (const r of replies.filter((x) => x.status !== 302)) {
      expect(r.status).toBe(429);
      expect(errorOf(r.body)).toBe('GH_TOO_MANY_LOGINS');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
  },

  async 'login-flood-real-user'(row) {
    const s = await startLogin({ store: row.arg!, memory: { max_sessions: 30 }, login: { rate_per_minute: 1000 } });
    const alice = new TestBrowser();
    const callback = await toCallback(alice, `${s.gh.url}/mine`);
    // Far more than max_sessions anonymous sign-ins, from many addresses.
    const flood = await inBatches(100, 6, (i) => get(loginUrl(s.gh), { ip: clientIp(i) }));
    expect(flood.every((r) => r.status === 302 || r.status === 429)).toBe(true);
    const page = await complete(alice, callback);
    expect(page.status).toBe(200);
    expect(s.up.seen.at(-1)?.url).toBe('/mine');
  },

  async 'login-flood-session'(row) {
    const s = await startLogin({ store: row.arg!, memory: { max_sessions: 30 }, login: { rate_per_minute: 1000 } });
    const alice = new TestBrowser();
    expect((await alice.go(`${s.gh.url}/before`, USERS.alice)).status).toBe(200);
    await inBatches(100, 6, (i) => get(loginUrl(s.gh), { ip: clientIp(i) }));
    const after = await alice.fetch(`${s.gh.url}/.gatehouse/userinfo`, { headers: { accept: 'application/json' } });
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body).user).toBeTruthy();
  },

  async 'login-per-browser'(row) {
    const s = await startLogin({ store: row.arg!, login: { rate_per_minute: 1000 } });
    const browser = new TestBrowser();
    const starts: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await browser.fetch(loginUrl(s.gh, '/same'));
      expect(r.status).toBe(302);
      starts.push(r.location!);
    }
    if (row.arg === 'redis') expect(await pendingInRedis(s.prefix)).toBeLessThanOrEqual(MAX_PENDING_PER_BROWSER);
    // The oldest was dropped; the latest still completes.
    const oldest = await toCallback(browser, starts[0]!);
    expect((await complete(browser, oldest)).status).toBe(400);
    const latest = await toCallback(browser, starts.at(-1)!);
    const page = await complete(browser, latest);
    expect(page.status).toBe(200);
    expect(s.up.seen.at(-1)?.url).toBe('/same');
  },

  async 'login-second-tab'(row) {
    const s = await startLogin({ store: row.arg!, login: { rate_per_minute: 1000 } });
    for (const order of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const browser = new TestBrowser();
      // Two tabs start signing in; the second reuses the first one's login cookie.
      const a = await browser.fetch(loginUrl(s.gh, '/tab-a'));
      const b = await browser.fetch(loginUrl(s.gh, '/tab-b'));
      expect(a.status).toBe(302);
      expect(b.status).toBe(302);
      expect(b.hops[0]!.setCookies.some((c) => c.includes('-login='))).toBe(false);
      const callbacks = { a: await toCallback(browser, a.location!), b: await toCallback(browser, b.location!) };
      for (const tab of order) {
        const page = await complete(browser, callbacks[tab]);
        expect(page.status).toBe(200);
        expect(s.up.seen.at(-1)?.url).toBe(`/tab-${tab}`);
      }
    }
  },
};

/** The request head of a POST whose body will not all come. */
const postHead = (path: string, length: number | 'chunked', type = 'application/octet-stream') =>
  `POST ${path} HTTP/1.1\r\n${HOST}Content-Type: ${type}\r\n${length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n\r\n`;

const body: Record<string, Scenario> = {
  async 'body-stall'(row) {
    const s = await startProxy();
    const c = await open(s.gh);
    await c.write(row.arg === 'chunked' ? `${postHead('/upload', 'chunked')}a\r\n0123456789\r\n` : `${postHead('/upload', 100)}0123456789`);
    expectRefused(await c.waitForClose(10_000), 408, 'GH_REQUEST_TIMEOUT');
    await expectAudited(s.audit, 408, 'GH_REQUEST_TIMEOUT');
    // The upstream request was aborted, not left hanging.
    await expect.poll(() => s.up.openSockets(), { timeout: 10_000 }).toBe(0);
  },

  async 'body-trickle'(row) {
    const s = await startProxy();
    const c = await open(s.gh);
    await c.write(postHead('/upload', 1000));
    // Never silent for as long as body_timeout, but far below body_min_rate.
    for (let i = 0; i < 100 && !c.closed; i++) {
      await c.write('x');
      await sleep(Number(row.arg));
    }
    expectRefused(await c.waitForClose(10_000), 408, 'GH_REQUEST_TIMEOUT');
  },

  async 'body-frees-connection'(row) {
    const s = await startProxy({
      routes: (up) => [{ name: 'app', path: '/', upstream: up, allow: { public: true }, max_connections: Number(row.arg), timeout: '10s' }],
    });
    const slow = await open(s.gh);
    await slow.write(`${postHead('/upload', 100)}0123456789`);
    await expect.poll(() => s.up.seen.length, { timeout: 10_000 }).toBe(1);
    const normal = await request(`${s.gh.url}/echo`);
    expect(normal.statusCode).toBe(200);
    await normal.body.text();
    expectRefused(await slow.waitForClose(10_000), 408, 'GH_REQUEST_TIMEOUT');
  },

  async 'body-stall-internal'(row) {
    const s = await startProxy();
    const c = await open(s.gh);
    await c.write(`${postHead(row.arg!, 100, 'application/x-www-form-urlencoded')}csrf=0123`);
    expectRefused(await c.waitForClose(10_000), 408, 'GH_REQUEST_TIMEOUT');
    await expectAudited(s.audit, 408, 'GH_REQUEST_TIMEOUT');
  },

  async 'body-stall-queued'(row) {
    const s = await startProxy({
      routes: (up) => [{ name: 'app', path: '/', upstream: up, allow: { public: true }, max_connections: Number(row.arg), timeout: '20s' }],
    });
    const holder = await open(s.gh);
    await holder.write(`GET /sse HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => holder.received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const slow = await open(s.gh);
    await slow.write(`${postHead('/upload', 100)}0123456789`);
    expectRefused(await slow.waitForClose(10_000), 408, 'GH_REQUEST_TIMEOUT');
    // It never reached the upstream.
    expect(s.up.seen.filter((r) => r.url === '/upload')).toHaveLength(0);
  },

  async 'body-legit'(row) {
    const late = row.arg === 'backpressure';
    const s = await startProxy({
      upstream: (req, res) => {
        if (req.url !== '/late-read') return false;
        // Read nothing for a second: the body backs up into Gatehouse and to the client.
        req.pause();
        setTimeout(() => {
          let size = 0;
          req.on('data', (ch: Buffer) => (size += ch.length));
          req.on('end', () => res.end(JSON.stringify({ size })));
          req.resume();
        }, 1000);
        return true;
      },
    });
    const c = await open(s.gh);
    if (late) {
      const total = 32 * 1024 * 1024;
      await c.write(postHead('/late-read', total));
      const chunk = Buffer.alloc(1024 * 1024, 7);
      for (let i = 0; i < total / chunk.length; i++) await c.write(chunk);
      const [res] = await c.waitForResponses(1, 30_000);
      expect(res?.status).toBe(200);
      expect(JSON.parse(res!.text()).size).toBe(total);
    } else {
      await c.write(postHead('/upload', 64 * 1024));
      for (let i = 0; i < 16; i++) {
        await c.write(Buffer.alloc(4096, i));
        await sleep(50);
      }
      const [res] = await c.waitForResponses(1, 15_000);
      expect(res?.status).toBe(200);
      expect(JSON.parse(res!.text()).size).toBe(64 * 1024);
    }
  },
};

const headers: Record<string, Scenario> = {
  async 'headers-trickle'(row) {
    const s = await startProxy();
    const c = await open(s.gh);
    const every = Number(row.arg);
    if (every === 0) {
      await c.write('GET /ind');
    } else {
      await c.write(`GET / HTTP/1.1\r\n${HOST}`);
      for (let i = 0; i < 100 && !c.closed; i++) {
        await c.write(`X-Slow-${i}: ${i}\r\n`);
        await sleep(every);
      }
    }
    expectRefused(await c.waitForClose(10_000), 408, 'GH_REQUEST_TIMEOUT');
    await expectAudited(s.audit, 408, 'GH_REQUEST_TIMEOUT');
  },

  async 'headers-silent'() {
    const s = await startProxy();
    const c = await open(s.gh);
    const r = await c.waitForClose(10_000);
    expect(r.end).toBe('closed');
    expect(r.received.length).toBe(0);
  },

  async 'slowloris-crowd'(row) {
    const n = Number(row.arg);
    const s = await startProxy({
      routes: (up) => [
        { name: 'app', path: '/', upstream: up, allow: { public: true }, max_connections: 10, max_queue: 2 * n, timeout: '20s' },
      ],
    });
    const conns: RawConnection[] = [];
    for (let i = 0; i < n; i++) {
      const h = await open(s.gh);
      await h.write(`GET /echo HTTP/1.1\r\n${HOST}`);
      const b = await open(s.gh);
      await b.write(postHead('/upload', 1_000_000));
      conns.push(h, b);
    }
    // Every client keeps sending a little, forever (bounded here to 20 s).
    let trickling = true;
    const trickle = (async () => {
      for (let t = 0; t < 200 && trickling; t++) {
        for (const [i, c] of conns.entries()) if (!c.closed) void c.write(i % 2 === 0 ? `X-T-${t}: 1\r\n` : 'x');
        await sleep(100);
      }
    })();
    try {
      const normal = await request(`${s.gh.url}/echo`, { headersTimeout: 20_000 });
      expect(normal.statusCode).toBe(200);
      await normal.body.text();
      await expect.poll(() => conns.filter((c) => !c.closed).length, { timeout: 20_000 }).toBe(0);
    } finally {
      trickling = false;
      await trickle;
    }
    for (const c of conns) expect(c.result().statuses).toEqual([408]);
    // Still serving.
    const after = await request(`${s.gh.url}/echo`);
    expect(after.statusCode).toBe(200);
    await after.body.text();
    const health = await request(`${s.gh.adminUrl}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.text();
  },
};

const upstream: Record<string, Scenario> = {
  async 'pool-cap'(row) {
    const max = Number(row.arg);
    const s = await startProxy({
      routes: (up) => [{ name: 'app', path: '/', upstream: up, allow: { public: true }, max_connections: max, timeout: '2s' }],
    });
    const streams = await Promise.all(Array.from({ length: 8 }, () => open(s.gh)));
    for (const c of streams) await c.write(`GET /sse HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => s.up.seen.length, { timeout: 10_000 }).toBe(max);
    await sleep(500);
    expect(s.up.openSockets()).toBeLessThanOrEqual(max);
    expect(s.up.seen).toHaveLength(max);
    // Those beyond the limit waited for the route timeout, then were refused.
    const refused = () => streams.filter((c) => c.responses().some((r) => r.status === 503));
    await expect.poll(() => refused().length, { timeout: 15_000 }).toBe(8 - max);
    for (const c of refused()) expect(errorOf(c.responses()[0]!.body)).toBe('GH_UPSTREAM_BUSY');
  },

  async 'pool-queue-full'(row) {
    const s = await startProxy({
      routes: (up) => [
        { name: 'app', path: '/', upstream: up, allow: { public: true }, max_connections: Number(row.arg), max_queue: 1, timeout: '20s' },
      ],
    });
    const holder = await open(s.gh);
    await holder.write(`GET /sse HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => holder.received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const queued = await open(s.gh);
    await queued.write(`GET /echo HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`);
    await sleep(200);
    const third = await sendRaw(s.gh.url, `GET /echo HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`, { timeoutMs: 10_000 });
    expect(third.statuses).toEqual([503]);
    expect(errorOf(third.responses[0]!.body)).toBe('GH_UPSTREAM_BUSY');
    await expectAudited(s.audit, 503, 'GH_UPSTREAM_BUSY');
    // The queued one is served once the holder leaves.
    holder.close();
    const r = await queued.waitForClose(10_000);
    expect(r.statuses).toEqual([200]);
  },

  async 'pool-queue-wait'(row) {
    const s = await startProxy({
      routes: (up) => [
        { name: 'app', path: '/', upstream: up, allow: { public: true }, max_connections: Number(row.arg), timeout: '500ms' },
      ],
    });
    const holder = await open(s.gh);
    await holder.write(`GET /sse HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => holder.received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const waiter = await sendRaw(s.gh.url, `GET /echo HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`, { timeoutMs: 10_000 });
    expect(waiter.statuses).toEqual([503]);
    expect(errorOf(waiter.responses[0]!.body)).toBe('GH_UPSTREAM_BUSY');
    expect(s.up.seen.filter((r) => r.url === '/echo')).toHaveLength(0);
  },

  async 'pool-isolation'(row) {
    const max = Number(row.arg);
    const s = await startProxy({
      upstream: (req, res) => {
        if (req.url !== '/busy/sse') return false;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: held\n\n');
        return true;
      },
      routes: (up) => [
        { name: 'busy', path: '/busy', upstream: up, allow: { public: true }, max_connections: max, timeout: '500ms' },
        { name: 'app', path: '/', upstream: up, allow: { public: true } },
      ],
    });
    const holders = await Promise.all(Array.from({ length: max }, () => open(s.gh)));
    for (const h of holders) await h.write(`GET /busy/sse HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => holders.every((h) => h.received.length > 0), { timeout: 10_000 }).toBe(true);
    const other = await request(`${s.gh.url}/echo`);
    expect(other.statusCode).toBe(200);
    await other.body.text();
    const more = await sendRaw(s.gh.url, `GET /busy/echo HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`, { timeoutMs: 10_000 });
    expect(more.statuses).toEqual([503]);
  },

  async 'pool-leave-queue'(row) {
    const s = await startProxy({
      routes: (up) => [
        { name: 'app', path: '/', upstream: up, allow: { public: true }, max_connections: Number(row.arg), max_queue: 1, timeout: '20s' },
      ],
    });
    const holder = await open(s.gh);
    await holder.write(`GET /sse HTTP/1.1\r\n${HOST}\r\n`);
    await expect.poll(() => holder.received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const leaver = await open(s.gh);
    await leaver.write(`GET /echo?leaver HTTP/1.1\r\n${HOST}\r\n`);
    await sleep(200);
    leaver.close();
    await sleep(200);
    // The queue's one place is free again: this one waits instead of being refused.
    const next = await open(s.gh);
    await next.write(`GET /echo?next HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`);
    await sleep(300);
    expect(next.closed).toBe(false);
    holder.close();
    expect((await next.waitForClose(10_000)).statuses).toEqual([200]);
    expect(s.up.seen.some((r) => r.url === '/echo?leaver')).toBe(false);
  },
};

/** After a refusal the process still serves. */
async function stillServing(gh: StartedGatehouse): Promise<void> {
  const r = await request(`${gh.url}/echo`);
  expect(r.statusCode).toBe(200);
  await r.body.text();
}

const limits: Record<string, Scenario> = {
  async 'header-size'(row) {
    const s = await startProxy();
    const r = await sendRaw(s.gh.url, `GET /echo HTTP/1.1\r\n${HOST}X-Big: ${'a'.repeat(Number(row.arg))}\r\n\r\n`);
    expectRefused(r, 431, 'GH_REQUEST_HEADERS_TOO_LARGE');
    await expectAudited(s.audit, 431, 'GH_REQUEST_HEADERS_TOO_LARGE');
    await stillServing(s.gh);
    expect(s.up.seen).toHaveLength(1);
  },

  async 'header-many'(row) {
    const s = await startProxy();
    const many = Array.from({ length: Number(row.arg) }, (_, i) => `X-H-${String(i).padStart(5, '0')}: vvvvvv\r\n`).join('');
    expectRefused(await sendRaw(s.gh.url, `GET /echo HTTP/1.1\r\n${HOST}${many}\r\n`), 431, 'GH_REQUEST_HEADERS_TOO_LARGE');
    await stillServing(s.gh);
  },

  async 'header-count'(row) {
    const s = await startProxy();
    const tiny = 'a:b\r\n'.repeat(Number(row.arg));
    const r = await sendRaw(s.gh.url, `GET /echo HTTP/1.1\r\n${HOST}${tiny}X-Forwarded-User: mallory\r\nConnection: close\r\n\r\n`);
    expectRefused(r, 431, 'GH_REQUEST_HEADERS_TOO_LARGE');
    expect(s.up.seen).toHaveLength(0);
    await stillServing(s.gh);
  },

  async 'cookie-size'(row) {
    const s = await startProxy();
    expectRefused(
      await sendRaw(s.gh.url, `GET /echo HTTP/1.1\r\n${HOST}Cookie: c=${'a'.repeat(Number(row.arg))}\r\n\r\n`),
      431,
      'GH_REQUEST_HEADERS_TOO_LARGE',
    );
    await stillServing(s.gh);
  },

  async 'cookie-pairs'(row) {
    const s = await startProxy();
    const n = Number(row.arg);
    const cookie = Array.from({ length: n }, (_, i) => `c${i}=1`).join('; ');
    const r = await sendRaw(s.gh.url, `GET /echo HTTP/1.1\r\n${HOST}Cookie: ${cookie}; gatehouse=x\r\nConnection: close\r\n\r\n`);
    expect(r.statuses).toEqual([200]);
    const forwarded = String(s.up.seen[0]!.headers.cookie);
    expect(forwarded).toContain(`c${n - 1}=1`);
    expect(forwarded).not.toContain('gatehouse=');
  },

  async 'target-size'(row) {
    const s = await startProxy();
    expectRefused(
      await sendRaw(s.gh.url, `GET /${'a'.repeat(Number(row.arg))} HTTP/1.1\r\n${HOST}\r\n`),
      431,
      'GH_REQUEST_HEADERS_TOO_LARGE',
    );
    await stillServing(s.gh);
  },

  async garbage(row) {
    const s = await startProxy();
    expectRefused(await sendRaw(s.gh.url, `${row.arg} / HTTP/1.1\r\n${HOST}\r\n`), 400, 'GH_BAD_REQUEST');
    await expectAudited(s.audit, 400, 'GH_BAD_REQUEST');
    await stillServing(s.gh);
  },
};

const SCENARIOS: Record<string, Scenario> = { ...login, ...body, ...headers, ...upstream, ...limits };

describe('resource exhaustion (exhaustion.cases.tsv)', () => {
  it('every row names a known scenario and a source', () => {
    for (const row of ROWS) {
      expect(SCENARIOS[row.scenario!], row.id).toBeTypeOf('function');
      expect(row.source, row.id).toMatch(/\S/);
    }
    expect(new Set(ROWS.map((r) => r.id)).size).toBe(ROWS.length);
  });

  it.each(ROWS.map((r) => [r.id!, r] as const))(
    '%s',
    async (_id, row) => {
      await SCENARIOS[row.scenario!]!(row);
    },
    60_000,
  );
});
