// The audit trail of a whole Gatehouse: a file sink and an HTTP (NDJSON) sink side by side, every
// kind of request and auth event through the real pipeline and a real IdP, one record per request
// in each sink, no secrets anywhere in what was written; and block mode refusing requests (503)
// while a sink cannot take records.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import WebSocket from 'ws';
import { request } from 'undici';
import { verifyLines } from '../../src/audit/chain.ts';
import { DEMO_PASSWORD, startDemoIdp } from '../../src/demo/idp.ts';
import { startHttpReceiver } from '../support/audit-receivers.ts';
import { firstDeliveries, parseRecords, readNdjson, sequenceOf, type AuditRecord } from '../support/audit.ts';
import { TestBrowser, type Page } from '../support/browser-http.ts';
import { getJson, rawRequest } from '../support/http.ts';
import { CLIENT_ID, CLIENT_SECRET, USERS } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { deadPort, refusingPort, startUpstream, type TestUpstream } from '../support/upstream.ts';

const ADMIN_TOKEN = 'audit-test-admin-token-0123456789';
const SESSION_SECRET = 'audit-test-session-secret-0123456789abcdef';
const SINK_TOKEN = 'audit-test-sink-token-0123456789';
const QUERY_SECRET = 'SUPERSECRET';

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** What the test expects the request record of one request to say. */
interface Expected {
  readonly what: string;
  readonly status?: number;
  readonly decision?: string;
  readonly route?: string | null;
  readonly errorCode?: string;
}

/** Every request the test sends to the public listener, by request id (x-request-id). */
class RequestLog {
  readonly byId = new Map<string, Expected & { readonly url: string }>();

  add(id: unknown, url: string, e: Expected): string {
    expect(typeof id, `request id of ${e.what}`).toBe('string');
    expect(this.byId.has(id as string), `request id ${String(id)} reused`).toBe(false);
    this.byId.set(id as string, { ...e, url });
    return id as string;
  }

  idOf(pred: (url: string) => boolean): string {
    const hits = [...this.byId].filter(([, e]) => pred(e.url));
    expect(hits).toHaveLength(1);
    return hits[0]![0];
  }
}

/** A scripted browser that notes the request id of every response from Gatehouse. */
class TrackedBrowser extends TestBrowser {
  readonly log: RequestLog;
  readonly base: string;

  constructor(log: RequestLog, base: string) {
    super();
    this.log = log;
    this.base = base;
  }

  override async fetch(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Page & { location: string | undefined }> {
    const r = await super.fetch(url, init);
    if (url.startsWith(this.base))
      this.log.add(r.headers['x-request-id'], `${init.method ?? 'GET'} ${url}`, {
        what: `browser ${init.method ?? 'GET'} ${url}`,
        status: r.status,
      });
    return r;
  }
}

interface AuditedSetup {
  readonly gh: StartedGatehouse;
  readonly url: string;
  readonly auditFile: string;
  readonly auditDir: string;
  readonly spoolDir: string;
  readonly rx: Awaited<ReturnType<typeof startHttpReceiver>>;
  /** Stops everything it started and removes its directories (it is started in beforeAll). */
  close(): Promise<void>;
}

/** Demo IdP + Gatehouse with file and HTTP audit sinks (the config startOidcSetup builds, plus audit). */
async function startAudited(up: TestUpstream): Promise<AuditedSetup> {
  const closers: (() => unknown)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c();
  };
  const dir = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    closers.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  };
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startDemoIdp({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${url}/.gatehouse/oidc/corp/callback`],
        post_logout_redirect_uris: [`${url}/.gatehouse/logout`],
      },
    ],
  });
  closers.push(() => idp.close());
  const rx = await startHttpReceiver({ token: SINK_TOKEN, keepRunning: true });
  closers.push(() => rx.stop());
  const auditDir = dir('gatehouse-audit-it-');
  const spoolDir = dir('gatehouse-audit-spool-');
  const auditFile = join(auditDir, 'audit.ndjson');
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const gh = await startTestGatehouse(
    {
      log_level: 'silent',
      server: { listen: `127.0.0.1:${port}`, public_url: url, shutdown_timeout: '1s' },
      admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
      session: { store: 'memory', secret: SESSION_SECRET, cookie: { secure: false } },
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
      audit: {
        sinks: [
          { type: 'file', path: auditFile, fsync: 'always' },
          { type: 'http', url: `${rx.url}/ingest`, format: 'ndjson', token: SINK_TOKEN },
        ],
        spool_dir: spoolDir,
      },
      routes: [
        { name: 'public', host: '127.0.0.1', path: '/public', upstream: up.url, allow: { public: true } },
        { name: 'down', host: '127.0.0.1', path: '/down', upstream: dead, allow: { public: true } },
        { name: 'secret', host: '127.0.0.1', path: '/secret', upstream: up.url, allow: { groups: ['nobody-has-this-group'] } },
        { name: 'app', host: '127.0.0.1', path: '/', upstream: up.url, allow: { authenticated: true }, pass_access_token: true },
      ],
    },
    { keepRunning: true },
  );
  closers.push(() => gh.shutdown());
  await gh.current().providers.oidc.get('corp')!.ready();
  return { gh, url, auditFile, auditDir, spoolDir, rx, close };
}

// The record of a request's end (a WebSocket also gets one when it opens: websocket_open).
const isRequestRecord = (r: AuditRecord) => r.event?.dataset === 'gatehouse.access' && r.event.action !== 'websocket_open';
const authEvents = (records: readonly AuditRecord[], action: string) =>
  records.filter((r) => r.event?.dataset === 'gatehouse.auth' && r.event.action === action);
const requestRecords = (lines: string[]) => parseRecords(lines).filter(isRequestRecord);

/** What the scenario did, for the checks: request ids by purpose, and every secret it handled. */
interface Traffic {
  readonly log: RequestLog;
  readonly ids: Readonly<Record<'pub' | 'bad' | 'allowed' | 'denied' | 'ws' | 'logout' | 'revoked' | 'login' | 'callback', string>>;
  readonly bobKey: string;
  readonly secrets: Readonly<Record<string, string>>;
}

/** Requests without a session: public, 401, 400 before routing, 404, 502. */
async function anonymousTraffic(s: AuditedSetup, log: RequestLog): Promise<{ pub: string; bad: string }> {
  const json = { accept: 'application/json' };
  // Public, with a query whose values must never be recorded.
  const pub = await getJson(`${s.url}/public/x?token=${QUERY_SECRET}&x=1`, json);
  expect(pub.status).toBe(200);
  const pubId = log.add(pub.headers['x-request-id'], 'public', { what: 'public', status: 200, decision: 'public', route: 'public' });

  // Unauthenticated API client: 401.
  const unauth = await getJson(`${s.url}/app/x?token=${QUERY_SECRET}`, json);
  expect(unauth.status).toBe(401);
  log.add(unauth.headers['x-request-id'], 'unauth', {
    what: '401',
    status: 401,
    decision: 'unauthenticated',
    route: 'app',
    errorCode: 'GH_UNAUTHENTICATED',
  });

  // Ambiguous path: 400 before routing.
  const bad = await rawRequest(s.url, `GET /a%2Fb?token=${QUERY_SECRET} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: application/json`);
  expect(bad.status).toBe(400);
  const badId = log.add(bad.headers['x-request-id'], 'bad', {
    what: '400',
    status: 400,
    decision: 'error',
    route: null,
    errorCode: 'GH_BAD_PATH',
  });

  // No route for this host: 404.
  const none = await getJson(`${s.url}/x?token=${QUERY_SECRET}`, { ...json, host: 'nowhere.example' });
  expect(none.status).toBe(404);
  log.add(none.headers['x-request-id'], 'none', { what: '404', status: 404, decision: 'error', route: null, errorCode: 'GH_NO_ROUTE' });

  // Upstream down: 502.
  const down = await getJson(`${s.url}/down/x`, json);
  expect(down.status).toBe(502);
  log.add(down.headers['x-request-id'], 'down', {
    what: '502',
    status: 502,
    decision: 'public',
    route: 'down',
    errorCode: 'GH_UPSTREAM_UNREACHABLE',
  });
  return { pub: pubId, bad: badId };
}

/** A WebSocket session for alice (recorded when it closes), then upgrades that never open (401, 502). */
async function webSocketTraffic(s: AuditedSetup, log: RequestLog, aliceCookie: string): Promise<string> {
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}/app/ws`, { headers: { cookie: `gatehouse=${aliceCookie}` } });
  const messages: string[] = [];
  ws.on('message', (d) => messages.push(String(d)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await vi.waitFor(() => expect(messages.length).toBe(1), { timeout: 5000 });
  const wsId = log.add(JSON.parse(messages[0]!).headers['x-request-id'], 'ws', {
    what: 'websocket',
    status: 101,
    decision: 'allow',
    route: 'app',
  });
  ws.send('x'.repeat(1000));
  await vi.waitFor(() => expect(messages.length).toBe(2), { timeout: 5000 });
  ws.close();
  await new Promise((resolve) => ws.once('close', resolve));

  const refusedUpgrade = async (path: string, cookie?: string) => {
    const w = new WebSocket(`${s.url.replace('http', 'ws')}${path}`, cookie ? { headers: { cookie } } : {});
    return new Promise<{ status: number; id: string }>((resolve, reject) => {
      w.once('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0, id: String(res.headers['x-request-id']) });
        res.resume();
        w.terminate();
      });
      w.once('open', () => reject(new Error(`${path} opened`)));
      w.once('error', () => {});
    });
  };
  const wsUnauth = await refusedUpgrade(`/app/ws?token=${QUERY_SECRET}`);
  expect(wsUnauth.status).toBe(401);
  log.add(wsUnauth.id, 'ws unauth', {
    what: 'websocket 401',
    status: 401,
    decision: 'unauthenticated',
    route: 'app',
    errorCode: 'GH_UNAUTHENTICATED',
  });
  const wsDown = await refusedUpgrade('/down/ws');
  expect(wsDown.status).toBe(502);
  log.add(wsDown.id, 'ws down', {
    what: 'websocket 502',
    status: 502,
    decision: 'public',
    route: 'down',
    errorCode: 'GH_UPSTREAM_UNREACHABLE',
  });
  return wsId;
}

/** Alice signs in through the real IdP, is allowed, denied, opens a WebSocket and logs out. */
async function aliceTraffic(s: AuditedSetup, up: TestUpstream, log: RequestLog) {
  const alice = new TrackedBrowser(log, s.url);
  const landed = await alice.go(`${s.url}/app/start?token=${QUERY_SECRET}`, USERS.alice);
  expect(landed.status).toBe(200);
  const callbackHop = landed.hops.find((h) => h.url.includes('/.gatehouse/oidc/corp/callback'))!;
  const callback = new URL(callbackHop.url);
  const aliceCookie = alice.jar.get(s.url, 'gatehouse')!;
  expect(aliceCookie).toBeTruthy();

  // Allowed.
  const allowed = await alice.fetch(`${s.url}/app/data`);
  expect(allowed.status).toBe(200);
  const allowedId = log.idOf((u) => u === `GET ${s.url}/app/data`);
  const accessToken = String(up.seen.at(-1)!.headers.authorization ?? '').replace(/^Bearer /, '');
  expect(accessToken.length).toBeGreaterThan(10);

  // Denied: 403.
  const denied = await alice.fetch(`${s.url}/secret/x`);
  expect(denied.status).toBe(403);
  const deniedId = log.idOf((u) => u === `GET ${s.url}/secret/x`);

  const wsId = await webSocketTraffic(s, log, aliceCookie);

  // Logout: POST with the CSRF token from the confirmation page.
  const page = await alice.fetch(`${s.url}/.gatehouse/logout`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const out = await alice.fetch(`${s.url}/.gatehouse/logout`, { method: 'POST', body: `csrf=${encodeURIComponent(csrf)}` });
  expect(out.status).toBe(303);
  const idToken = new URL(out.location!).searchParams.get('id_token_hint')!;
  expect(idToken).toMatch(/^eyJ/);
  const logoutId = log.idOf((u) => u === `POST ${s.url}/.gatehouse/logout`);
  const loginId = log.idOf((u) => u.startsWith(`GET ${s.url}/.gatehouse/login?rd=%2Fapp%2Fstart`));
  const callbackId = log.idOf(
    (u) => u.startsWith(`GET ${s.url}/.gatehouse/oidc/corp/callback`) && u.includes(callback.searchParams.get('state')!),
  );
  return {
    aliceCookie,
    accessToken,
    idToken,
    csrf,
    callback,
    ids: { allowed: allowedId, denied: deniedId, ws: wsId, logout: logoutId, login: loginId, callback: callbackId },
  };
}

/** A second sign-in, revoked through the admin API; its next request meets a revoked session. */
async function bobTraffic(s: AuditedSetup, log: RequestLog) {
  const bob = new TrackedBrowser(log, s.url);
  expect((await bob.go(`${s.url}/app/bob`, USERS.bob)).status).toBe(200);
  const bobCookie = bob.jar.get(s.url, 'gatehouse')!;
  const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const listed = await getJson(`${s.gh.adminUrl}/admin/sessions?user=${encodeURIComponent('bob@example.com')}`, adminHeaders);
  expect(listed.status).toBe(200);
  const bobKey = listed.body.sessions[0].id as string;
  const del = await request(`${s.gh.adminUrl}/admin/sessions/${bobKey}`, { method: 'DELETE', headers: adminHeaders });
  expect(del.statusCode).toBe(200);
  await del.body.dump();
  expect((await getJson(`${s.gh.adminUrl}/admin/sessions?user=x`, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
  const after = await bob.fetch(`${s.url}/app/after-revoke`);
  expect(after.status).toBe(302);
  const revokedId = log.idOf((u) => u === `GET ${s.url}/app/after-revoke`);
  return { bobCookie, bobKey, revokedId };
}

/** Every kind of request and auth event, then a wait until both sinks hold all of it. */
async function driveTraffic(s: AuditedSetup, up: TestUpstream): Promise<Traffic> {
  const log = new RequestLog();
  const anonymous = await anonymousTraffic(s, log);
  const alice = await aliceTraffic(s, up, log);
  const bob = await bobTraffic(s, log);

  // Everything has reached both sinks.
  const expectedIds = log.byId.size;
  await vi.waitFor(() => expect(requestRecords(s.rx.lines).length).toBeGreaterThanOrEqual(expectedIds), { timeout: 10_000 });
  await vi.waitFor(() => expect(requestRecords(readNdjson(s.auditFile)).length).toBeGreaterThanOrEqual(expectedIds), { timeout: 10_000 });
  await vi.waitFor(() => expect(authEvents(parseRecords(s.rx.lines), 'admin_api').length).toBe(3), { timeout: 5000 });
  await vi.waitFor(() => expect(s.rx.lines.length).toBe(readNdjson(s.auditFile).length), { timeout: 5000 });

  const secrets: Record<string, string> = {
    'alice session cookie': alice.aliceCookie,
    'alice session id': alice.aliceCookie.split('.')[0]!,
    'bob session cookie': bob.bobCookie,
    'bob session id': bob.bobCookie.split('.')[0]!,
    'client secret': CLIENT_SECRET,
    'admin token': ADMIN_TOKEN,
    'session secret': SESSION_SECRET,
    'sink token': SINK_TOKEN,
    'query value': QUERY_SECRET,
    password: DEMO_PASSWORD,
    'ID token': alice.idToken,
    'ID token signature': alice.idToken.split('.')[2]!,
    'access token': alice.accessToken,
    'authorization code': alice.callback.searchParams.get('code')!,
    'OAuth state': alice.callback.searchParams.get('state')!,
    'logout CSRF token': alice.csrf,
  };
  return { log, ids: { ...anonymous, ...alice.ids, revoked: bob.revokedId }, bobKey: bob.bobKey, secrets };
}

// One scenario drives the traffic once (a sign-in through the real IdP takes seconds; it waits with
// vi.waitFor, as expect.poll needs a test), and each `it` then checks one property of what the two
// sinks wrote, so one failure does not hide the others.
describe('audit trail of a running Gatehouse', () => {
  let up: TestUpstream | undefined;
  let s: AuditedSetup | undefined;
  let t: Traffic;
  let fileLines: string[];
  let records: AuditRecord[];
  const rec = (id: string) => records.find((r) => isRequestRecord(r) && r.http.request.id === id)!;

  beforeAll(async () => {
    up = await startUpstream(undefined, { keepRunning: true });
    s = await startAudited(up);
    t = await driveTraffic(s, up);
    fileLines = readNdjson(s.auditFile);
    records = parseRecords(fileLines);
  }, 30_000);
  afterAll(async () => {
    await s?.close();
    await up?.close();
  });

  it('both sinks got the same records, in the same order, once each, as one intact chain', () => {
    expect(s!.rx.lines).toEqual(fileLines);
    expect(s!.rx.problems).toEqual([]);
    expect(verifyLines(fileLines)).toMatchObject({ ok: true, chains: 1, records: fileLines.length });
    expect(firstDeliveries(records)).toHaveLength(records.length);
    expect(records.map(sequenceOf)).toEqual(records.map((_, i) => i + 1));
  });

  it('writes exactly one request record per request to each sink, and none for anything else', () => {
    const expectedIds = [...t.log.byId.keys()];
    for (const [name, lines] of [
      ['file', fileLines],
      ['http', s!.rx.lines],
    ] as const) {
      const reqs = requestRecords(lines);
      expect(reqs.map((r) => r.http.request.id).sort(), name).toEqual([...expectedIds].sort());
    }
  });

  it('records the status, decision, route, error code and client address of every request', () => {
    for (const [id, e] of t.log.byId) {
      const r = rec(id);
      if (e.status !== undefined) expect(r.http.response.status_code, e.what).toBe(e.status);
      if (e.decision !== undefined) expect(r.gatehouse.decision, e.what).toBe(e.decision);
      if (e.route !== undefined) expect(r.gatehouse.route ?? null, e.what).toBe(e.route);
      if (e.errorCode !== undefined) expect(r.gatehouse.error_code, e.what).toBe(e.errorCode);
      expect(r.source.ip, e.what).toBe('127.0.0.1');
    }
  });

  it('records the path and the query keys, never the query values', () => {
    expect(rec(t.ids.pub)).toMatchObject({ url: { path: '/public/x' }, gatehouse: { query_keys: ['token', 'x'] } });
    expect(rec(t.ids.bad)).toMatchObject({ url: { path: '/a%2Fb' }, gatehouse: { query_keys: ['token'] } });
    for (const [id, e] of t.log.byId) {
      if (/[?&]token=/.test(e.url) || ['unauth', 'none', 'ws unauth'].includes(e.url))
        expect(rec(id).gatehouse.query_keys, e.what).toEqual(['token']);
    }
  });

  it('names the user, the auth method and the decision of allowed and denied requests', () => {
    expect(rec(t.ids.allowed)).toMatchObject({
      event: { action: 'http_request', outcome: 'success' },
      user: { name: 'alice@example.com' },
      gatehouse: { auth_method: 'session', decision: 'allow', route: 'app' },
      user_agent: { original: 'gatehouse-test-browser' },
    });
    expect(rec(t.ids.denied)).toMatchObject({
      event: { outcome: 'failure' },
      user: { name: 'alice@example.com' },
      gatehouse: { decision: 'deny', route: 'secret' },
    });
  });

  it('names the IdP subject as user.id, on requests and on the sign-in, and the groups that would have allowed a 403', () => {
    expect(rec(t.ids.allowed)).toMatchObject({ user: { id: 'alice', name: 'alice@example.com', domain: 'corp' } });
    expect(rec(t.ids.denied)).toMatchObject({
      user: { id: 'alice' },
      gatehouse: { granting_groups: ['nobody-has-this-group'] },
      event: { type: ['access', 'denied'] },
    });
    expect(rec(t.ids.allowed).gatehouse.granting_groups).toBeUndefined();
    const login = authEvents(records, 'login_succeeded').find((r) => r.http?.request?.id === t.ids.callback);
    expect(login).toMatchObject({ user: { id: 'alice', name: 'alice@example.com' } });
  });

  it('records how the client connected: scheme, port, HTTP version, source port, and the trace id of a valid traceparent only', async () => {
    const port = Number(new URL(s!.url).port);
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const valid = await getJson(`${s!.url}/public/traced`, { accept: 'application/json', traceparent: `00-${trace}-00f067aa0ba902b7-01` });
    const invalid = await getJson(`${s!.url}/public/untraced`, {
      accept: 'application/json',
      traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    });
    const ids = [valid.headers['x-request-id'], invalid.headers['x-request-id']];
    let found: AuditRecord[] = [];
    await vi.waitFor(
      () => {
        found = ids.map((id) => requestRecords(readNdjson(s!.auditFile)).find((r) => r.http.request.id === id)!);
        expect(found.every(Boolean)).toBe(true);
      },
      { timeout: 5000 },
    );
    const [traced, untraced] = found as [AuditRecord, AuditRecord];
    expect(traced).toMatchObject({
      url: { scheme: 'http', port, domain: '127.0.0.1', path: '/public/traced' },
      http: { version: '1.1' },
      trace: { id: trace },
    });
    expect(traced.source.port).toEqual(expect.any(Number));
    expect(traced.source.port).not.toBe(port);
    expect(untraced.trace).toBeUndefined();
  });

  it('records a WebSocket session when it closes, with the bytes of both directions', () => {
    const wsRec = rec(t.ids.ws);
    expect(wsRec).toMatchObject({
      event: { action: 'websocket_session' },
      http: { response: { status_code: 101 } },
      user: { name: 'alice@example.com' },
    });
    // The upgrade request plus a masked 1000-byte frame in; the 101, hello and the echo out.
    expect(wsRec.http.request.bytes).toBeGreaterThan(1000);
    expect(wsRec.http.response.bytes).toBeGreaterThan(1000);
  });

  it('records a WebSocket when it opens too: the same request id, status 101, before the record at its close', () => {
    const opens = records.filter((r) => r.event?.action === 'websocket_open');
    expect(opens).toHaveLength(1);
    expect(opens[0]).toMatchObject({
      http: { request: { id: t.ids.ws }, response: { status_code: 101 } },
      user: { name: 'alice@example.com' },
      gatehouse: { route: 'app', decision: 'allow' },
    });
    expect(sequenceOf(opens[0]!)).toBeLessThan(sequenceOf(rec(t.ids.ws)));
  });

  it('writes sign-in, logout and revocation events, each before the record of the request that caused it', () => {
    const eventFor = (action: string, requestId: string) => {
      const hits = authEvents(records, action).filter((r) => r.http?.request?.id === requestId);
      expect(hits, `${action} for ${requestId}`).toHaveLength(1);
      expect(sequenceOf(hits[0]!)).toBeLessThan(sequenceOf(rec(requestId)));
      return hits[0]!;
    };
    expect(eventFor('login_started', t.ids.login)).toMatchObject({
      event: { outcome: 'unknown', type: ['start'] },
      gatehouse: { idp: 'corp' },
    });
    const aliceLogin = eventFor('login_succeeded', t.ids.callback);
    expect(aliceLogin).toMatchObject({
      event: { outcome: 'success' },
      user: { name: 'alice@example.com' },
      gatehouse: { idp: 'corp', session: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) },
    });
    expect(eventFor('logout', t.ids.logout)).toMatchObject({
      event: { outcome: 'success', reason: 'user' },
      gatehouse: { session: aliceLogin.gatehouse.session },
    });
    expect(eventFor('session_revoked', t.ids.revoked)).toMatchObject({ event: { reason: 'revoked' }, gatehouse: { session: t.bobKey } });
    expect(authEvents(records, 'login_started')).toHaveLength(2);
    expect(authEvents(records, 'login_succeeded')).toHaveLength(2);
  });

  it('records every admin API call after it was answered, the refused one too, with its status, target user and count', () => {
    const admin = authEvents(records, 'admin_api');
    expect(admin.map((r) => [r.event.outcome, r.event.reason, r.http.response.status_code])).toEqual([
      ['success', 'GET /admin/sessions', 200],
      ['success', `DELETE /admin/sessions/${t.bobKey}`, 200],
      ['failure', 'unauthorized', 401],
    ]);
    expect(admin[1]).toMatchObject({
      user: { target: { name: 'bob@example.com' } },
      gatehouse: { count: 1, credential: 'admin.token' },
      http: { request: { method: 'DELETE' } },
    });
    expect(admin[2]!.gatehouse.credential).toBeUndefined();
  });

  it("writes one session_revoked with its user when the admin revokes the session, before the call's record", () => {
    const byAdmin = authEvents(records, 'session_revoked').filter((r) => r.event.reason === 'admin');
    expect(byAdmin).toHaveLength(1);
    expect(byAdmin[0]).toMatchObject({
      user: { name: 'bob@example.com', id: 'bob', domain: 'corp' },
      gatehouse: { session: t.bobKey, idp: 'corp' },
      event: { category: ['session'], type: ['end'] },
    });
    const call = authEvents(records, 'admin_api').find((r) => r.event.reason === `DELETE /admin/sessions/${t.bobKey}`)!;
    expect(sequenceOf(byAdmin[0]!)).toBeLessThan(sequenceOf(call));
  });

  it('holds no secret anywhere in what the sinks and the spool wrote', () => {
    const outputs: [string, string][] = [
      ...filesUnder(s!.auditDir).map((f) => [f, readFileSync(f, 'utf8')] as [string, string]),
      ...filesUnder(s!.spoolDir).map((f) => [f, readFileSync(f, 'utf8')] as [string, string]),
      ['http receiver', s!.rx.lines.join('\n')],
    ];
    expect(outputs.length).toBeGreaterThanOrEqual(2);
    for (const [name, secret] of Object.entries(t.secrets)) {
      expect(secret.length, name).toBeGreaterThanOrEqual(4);
      for (const [where, text] of outputs) expect(text.includes(secret), `${name} found in ${where}`).toBe(false);
    }
  });
});

describe('block mode', () => {
  it('refuses requests with 503 GH_AUDIT_UNAVAILABLE once the queue is full, and serves again when the sink is back', async () => {
    const up = await startUpstream();
    const refusing = await refusingPort();
    const port = refusing.port;
    const gh = await startTestGatehouse({
      ...baseConfig(up.url),
      audit: {
        on_sink_failure: 'block',
        queue_size: 10,
        spool_dir: tempDir('gatehouse-audit-block-'),
        sinks: [{ type: 'http', url: `http://127.0.0.1:${port}/ingest`, format: 'ndjson', token: SINK_TOKEN }],
      },
    });
    const ids: string[] = [];
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof getJson>> | undefined;
    for (let i = 0; i < 30 && !refused; i++) {
      const r = await getJson(`${gh.url}/r/${i}`);
      statuses.push(r.status);
      if (r.status !== 200) refused = r;
      else ids.push(String(r.headers['x-request-id']));
    }
    expect(refused?.status).toBe(503);
    expect(refused!.headers['content-type']).toContain('application/json');
    expect(refused!.body).toMatchObject({ error: 'GH_AUDIT_UNAVAILABLE', status: 503 });
    const served = statuses.filter((s) => s === 200).length;
    expect(served).toBeGreaterThanOrEqual(10);
    expect(served).toBeLessThanOrEqual(12);
    expect(up.seen.length).toBe(served);
    // Still refused a moment later, and not ready.
    const again = await getJson(`${gh.url}/r/again`);
    expect(again.status).toBe(503);
    await expect.poll(async () => (await getJson(`${gh.adminUrl}/readyz`)).status, { timeout: 5_000, interval: 50 }).toBe(503);

    // The receiver comes up where the sink points: service returns.
    await refusing.release();
    const rx = await startHttpReceiver({ token: SINK_TOKEN, port });
    await expect
      .poll(
        async () => {
          const r = await getJson(`${gh.url}/r/back`);
          if (r.status === 200) ids.push(String(r.headers['x-request-id']));
          return r.status;
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(200);
    expect((await getJson(`${gh.adminUrl}/readyz`)).status).toBe(200);
    // Every served request was recorded, in order; the refused ones (which could not be queued
    // without unbounded memory) are summed up in one record before the first one after recovery.
    await expect.poll(() => firstDeliveries(parseRecords(rx.lines)).length, { timeout: 10_000 }).toBe(ids.length + 1);
    const delivered = firstDeliveries(parseRecords(rx.lines));
    const summary = delivered.filter((r) => r.event.action === 'requests_refused');
    expect(summary).toHaveLength(1);
    expect(summary[0]!.message).toMatch(/^\d+ request\(s\) refused with 503/);
    expect(Number(/^(\d+)/.exec(summary[0]!.message)![1])).toBeGreaterThanOrEqual(2);
    expect(delivered.filter((r) => r.event.action !== 'requests_refused').map((r) => r.http.request.id)).toEqual(ids);
    expect(delivered.map(sequenceOf)).toEqual(delivered.map((_, i) => i + 1));
    expect(verifyLines(rx.lines).ok).toBe(true);
  }, 30_000);
});

describe('block mode with a sink that is slow to fail', () => {
  it('serves nothing while the sink is down, also while a retry is in flight', async () => {
    const up = await startUpstream();
    const rx = await startHttpReceiver({ token: SINK_TOKEN });
    rx.status = 503;
    rx.delayMs = 300;
    const gh = await startTestGatehouse({
      ...baseConfig(up.url),
      audit: {
        on_sink_failure: 'block',
        queue_size: 10,
        spool_dir: tempDir('gatehouse-audit-block-slow-'),
        sinks: [{ type: 'http', url: `${rx.url}/ingest`, format: 'ndjson', token: SINK_TOKEN }],
      },
    });
    let served = 0;
    for (let i = 0; i < 30; i++) {
      const r = await getJson(`${gh.url}/fill/${i}`);
      if (r.status !== 200) break;
      served++;
    }
    expect(served).toBeGreaterThanOrEqual(10);
    expect(served).toBeLessThanOrEqual(12);
    // The sink stays down; for 2 s (several retries of 300 ms each) nothing is served.
    const statuses: number[] = [];
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      statuses.push((await getJson(`${gh.url}/while-down`)).status);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(rx.posts.length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s !== 503)).toEqual([]);
    expect(up.seen.length).toBe(served);
    rx.status = 200;
    rx.delayMs = 0;
  }, 20_000);
});

describe('request record byte counts', () => {
  it('http.request.bytes counts the whole request (request line, headers and body), like http.response.bytes counts the whole response', async () => {
    const up = await startUpstream();
    const rx = await startHttpReceiver({ token: SINK_TOKEN });
    const gh = await startTestGatehouse({
      ...baseConfig(up.url),
      audit: {
        spool_dir: tempDir('gatehouse-audit-bytes-'),
        sinks: [{ type: 'http', url: `${rx.url}/ingest`, format: 'ndjson', token: SINK_TOKEN }],
      },
    });
    const body = 'x'.repeat(100);
    const head = `POST /upload HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}`;
    const r = await rawRequest(gh.url, head, body);
    expect(r.status).toBe(200);
    // rawRequest sends exactly: head, "connection: close", blank line, body.
    const sent = Buffer.byteLength(`${head}\r\nconnection: close\r\n\r\n${body}`);
    await expect.poll(() => rx.lines.length, { timeout: 5000 }).toBe(1);
    const [rec] = parseRecords(rx.lines);
    expect(rec!.http.request.id).toBe(r.headers['x-request-id']);
    expect(rec!.http.response.bytes).toBeGreaterThan(r.body.length);
    // At least the body and the request line; at most what went over the wire.
    expect(rec!.http.request.bytes).toBeGreaterThanOrEqual(body.length + 'POST /upload HTTP/1.1\r\n'.length);
    expect(rec!.http.request.bytes).toBeLessThanOrEqual(sent);
  });
});

describe('a request the client abandons', () => {
  it('is recorded once, without claiming a 200 response that was never sent', async () => {
    const up = await startUpstream();
    const rx = await startHttpReceiver({ token: SINK_TOKEN });
    const gh = await startTestGatehouse({
      ...baseConfig(up.url),
      audit: {
        spool_dir: tempDir('gatehouse-audit-abort-'),
        sinks: [{ type: 'http', url: `${rx.url}/ingest`, format: 'ndjson', token: SINK_TOKEN }],
      },
    });
    const ac = new AbortController();
    const pending = request(`${gh.url}/slow`, { signal: ac.signal }).then(
      () => 'answered',
      () => 'aborted',
    );
    // The upstream has the request and will never answer; the client gives up.
    await expect.poll(() => up.seen.length, { timeout: 5000 }).toBe(1);
    ac.abort();
    expect(await pending).toBe('aborted');
    await expect.poll(() => rx.lines.length, { timeout: 5000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.lines).toHaveLength(1);
    const [rec] = parseRecords(rx.lines);
    expect(rec).toMatchObject({ url: { path: '/slow' }, gatehouse: { route: 'app' }, http: { response: { bytes: 0 } } });
    // Nothing was sent to the client: not a 200, and not a success.
    expect(rec!.http.response.status_code).not.toBe(200);
    expect(rec!.event.outcome).not.toBe('success');
  });
});
