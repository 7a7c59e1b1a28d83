// Cookie attack suite (issue 11 breaches 4 and 5): which cookie Gatehouse takes as its session or
// as the pending sign-in's browser binding, and which cookies reach the upstream, for every row of
// cookies.cases.tsv. Requests go over raw sockets (bytes such as \xA0 and exact separators are
// sent as written) to a real Gatehouse with a real upstream; login rows run the OIDC flow against
// a real OpenID provider (oidc-provider). Also: the login cookie's attributes, and its clearing
// when a sign-in completes.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoIdp, type DemoIdp } from '../../src/demo/idp.ts';
import { createLoginCookie, LOGIN_TTL_MS } from '../../src/auth/login-state.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { loadCases, type CaseRow } from '../support/case-table.ts';
import { CLIENT_ID, CLIENT_SECRET, USERS } from '../support/oidc.ts';
import { sendRaw, type RawResult } from '../support/raw-http.ts';
import { freePort } from '../support/ports.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';

const ROWS = loadCases(new URL('./cookies.cases.tsv', import.meta.url));
const rowsOf = (kind: string) => ROWS.filter((r) => r.kind === kind).map((r) => [r.id!, r] as const);

const NAME = '__Host-gatehouse';
const BASE = 'gatehouse';
const LOGIN_NAME = `${NAME}-login`;
const SECRET = 'cookie-suite-session-secret-0123456789abcdef';
const VICTIM = {
  user: 'victim@corp.example',
  email: 'victim@corp.example',
  name: 'Victim',
  groups: ['staff'],
  idp: 'corp',
  method: 'test',
};
const ATTACKER = { ...VICTIM, user: 'attacker@corp.example', email: 'attacker@corp.example', name: 'Attacker' };

function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => values[k] ?? m);
}

/** A real upstream that records each request's headers under its ?case= and answers upgrades with 101. */
interface RecordingUpstream {
  readonly url: string;
  readonly seen: Map<string, IncomingHttpHeaders>;
  close(): Promise<void>;
}

async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const seen = new Map<string, IncomingHttpHeaders>();
  const caseOf = (url: string | undefined) => new URL(url ?? '/', 'http://u').searchParams.get('case') ?? '';
  const server: Server = createServer((req, res) => {
    seen.set(caseOf(req.url), req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  server.on('upgrade', (req, socket) => {
    seen.set(caseOf(req.url), req.headers);
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function hostOf(url: string): string {
  return new URL(url).host;
}

function get(gh: StartedGatehouse, target: string, cookie: string | undefined, accept = 'application/json'): Promise<RawResult> {
  return sendRaw(
    gh.url,
    `GET ${target} HTTP/1.1\r\nHost: ${hostOf(gh.url)}\r\nAccept: ${accept}\r\n${cookie === undefined ? '' : `Cookie: ${cookie}\r\n`}Connection: close\r\n\r\n`,
  );
}

describe('session cookie and upstream Cookie header', () => {
  let up: RecordingUpstream;
  let gh: StartedGatehouse;
  let values: Record<string, string>;

  beforeAll(async () => {
    up = await startRecordingUpstream();
    gh = await startTestGatehouse(
      {
        ...baseConfig(up.url),
        session: { store: 'memory', secret: SECRET, cookie: { secure: true } },
        routes: [
          { name: 'pub', path: '/pub', upstream: up.url, allow: { public: true } },
          { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
        ],
      },
      { keepRunning: true },
    );
    const sessions = gh.current().sessions;
    expect(sessions.cookie.name).toBe(NAME);
    const victim = await sessions.create(VICTIM);
    const attacker = await sessions.create(ATTACKER);
    // Right shape, wrong MAC: what someone without the secret can make.
    const forged = `${victim.cookieValue.slice(0, 44)}${'A'.repeat(22)}`;
    values = { N: NAME, B: BASE, LN: LOGIN_NAME, V: victim.cookieValue, A: attacker.cookieValue, X: forged };
  });
  afterAll(async () => {
    await gh?.shutdown();
    await up?.close();
  });

  it.each(rowsOf('identity'))('%s: the request is signed in as expected', async (id, row: CaseRow) => {
    const r = await get(gh, `/app/echo?case=${id}`, fill(row.cookie!, values));
    const res = r.responses[0]!;
    const cleared = res.headerAll('set-cookie').some((c) => c.startsWith(`${NAME}=;`) && c.includes('Max-Age=0'));
    switch (row.expect) {
      case 'victim':
      case 'attacker': {
        expect(res.status).toBe(200);
        expect(up.seen.get(id)?.['x-forwarded-user']).toBe(row.expect === 'victim' ? VICTIM.user : ATTACKER.user);
        expect(cleared).toBe(false);
        break;
      }
      case 'anonymous':
      case 'anonymous+clear': {
        expect(res.status).toBe(401);
        expect(up.seen.has(id)).toBe(false);
        // Ambiguity clears nothing: the clearing cookie would delete the victim's own.
        expect(cleared).toBe(row.expect === 'anonymous+clear');
        break;
      }
      default:
        throw new Error(`unknown expectation ${row.expect}`);
    }
  });

  it.each(rowsOf('strip'))('%s: the upstream gets only its own cookies over HTTP', async (id, row: CaseRow) => {
    const r = await get(gh, `/pub/echo?case=${id}`, fill(row.cookie!, values));
    expect(r.statuses).toEqual([200]);
    const got = up.seen.get(id)?.cookie;
    expect(got ?? '(none)').toBe(fill(row.expect!, values));
  });

  it.each(rowsOf('strip'))('%s: the upstream gets only its own cookies over a WebSocket upgrade', async (id, row: CaseRow) => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const r = await sendRaw(
      gh.url,
      `GET /pub/ws?case=${id} HTTP/1.1\r\nHost: ${hostOf(gh.url)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nCookie: ${fill(row.cookie!, values)}\r\n\r\n`,
    );
    expect(r.statuses).toEqual([101]);
    const got = up.seen.get(id)?.cookie;
    expect(got ?? '(none)').toBe(fill(row.expect!, values));
  });
});

// OIDC: the pending sign-in is bound to the browser by the login cookie; which Cookie headers
// let the callback accept it. One IdP and one Gatehouse for all rows; each row signs in afresh.
describe('login cookie (OIDC browser binding)', () => {
  let idp: DemoIdp;
  let gh: StartedGatehouse;

  beforeAll(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    idp = await startDemoIdp({
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${url}/.gatehouse/oidc/corp/callback`],
          post_logout_redirect_uris: [`${url}/.gatehouse/logout`],
        },
      ],
    });
    gh = await startTestGatehouse(
      {
        log_level: 'silent',
        server: { listen: `127.0.0.1:${port}`, public_url: url, shutdown_timeout: '1s' },
        admin: { listen: '127.0.0.1:0' },
        session: { store: 'memory', secret: SECRET, cookie: { secure: true } },
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
        routes: [{ name: 'app', path: '/', upstream: 'http://127.0.0.1:9', allow: { authenticated: true } }],
      },
      { keepRunning: true },
    );
    await gh.current().providers.oidc.get('corp')!.ready();
  });
  afterAll(async () => {
    await gh?.shutdown();
    await idp?.close();
  });

  /** Start a sign-in: its login cookie value, and the IdP URL it redirects to. */
  async function startLogin(): Promise<{ loginValue: string; setCookie: string; authorize: string }> {
    const r = await get(gh, '/.gatehouse/login?rd=%2Fhome', undefined, 'text/html');
    const res = r.responses[0]!;
    expect(res.status).toBe(302);
    const setCookie = res.headerAll('set-cookie').find((c) => c.startsWith(`${LOGIN_NAME}=`))!;
    return { loginValue: setCookie.slice(LOGIN_NAME.length + 1, setCookie.indexOf(';')), setCookie, authorize: res.header('location')! };
  }

  /** Complete the IdP side of a sign-in and return the callback URL (code + state), not yet visited. */
  async function callbackUrl(authorize: string): Promise<string> {
    const browser = new TestBrowser();
    const page = await browser.go(authorize, USERS.alice, (u) => u.includes('/.gatehouse/oidc/corp/callback'));
    expect(page.url).toContain('/.gatehouse/oidc/corp/callback?');
    return page.url;
  }

  it('sets the login cookie HttpOnly, Secure, SameSite=Lax, Path=/ with a 10-minute Max-Age', async () => {
    const { loginValue, setCookie } = await startLogin();
    expect(loginValue).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(setCookie).toBe(`${LOGIN_NAME}=${loginValue}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=600`);
  });

  it('serialises the login cookie without Secure only in dev mode, and clears it with the same attributes', () => {
    const secure = createLoginCookie({ name: NAME, secure: true, sameSite: 'Strict', domain: undefined });
    const dev = createLoginCookie({ name: BASE, secure: false, sameSite: 'Lax', domain: undefined });
    const s = secure.ensure(undefined).setCookie!;
    expect(s).toMatch(
      new RegExp(`^${LOGIN_NAME}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${LOGIN_TTL_MS / 1000}$`),
    );
    expect(dev.ensure(undefined).setCookie).toMatch(/^gatehouse-login=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/);
    expect(secure.clear()).toBe(`${LOGIN_NAME}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0`);
    expect(dev.clear()).toBe('gatehouse-login=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    // An existing cookie is reused (two tabs), not replaced.
    const value = s.slice(LOGIN_NAME.length + 1, s.indexOf(';'));
    expect(secure.ensure(`a=1; ${LOGIN_NAME}=${value}`)).toEqual({ value, setCookie: undefined });
  });

  it('clears the login cookie when the sign-in completes', async () => {
    const { loginValue, authorize } = await startLogin();
    const cb = new URL(await callbackUrl(authorize));
    const r = await get(gh, cb.pathname + cb.search, `${LOGIN_NAME}=${loginValue}`, 'text/html');
    const res = r.responses[0]!;
    expect(res.status).toBe(302);
    expect(res.header('location')).toBe('/home');
    const set = res.headerAll('set-cookie');
    expect(
      set.some((c) =>
        /^__Host-gatehouse=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; Secure; SameSite=Lax; Max-Age=\d+$/.test(c),
      ),
    ).toBe(true);
    expect(set).toContain(`${LOGIN_NAME}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0`);
  });

  it.each(rowsOf('login'))('%s: the callback judges the browser binding as expected', async (id, row: CaseRow) => {
    const own = await startLogin();
    const other = await startLogin();
    const cb = new URL(await callbackUrl(own.authorize));
    const cookie = fill(row.cookie!, { LN: LOGIN_NAME, B: BASE, LS: own.loginValue, LO: other.loginValue });
    const r = await get(gh, cb.pathname + cb.search, cookie);
    const res = r.responses[0]!;
    if (row.expect === 'accepted') {
      expect(res.status, id).toBe(302);
      expect(res.headerAll('set-cookie').some((c) => c.startsWith(`${NAME}=`) && !c.startsWith(`${NAME}=;`))).toBe(true);
    } else {
      expect(row.expect).toBe('refused');
      expect(res.status, id).toBeGreaterThanOrEqual(400);
      expect(JSON.parse(res.text()).message).toContain('started in another browser');
      expect(res.headerAll('set-cookie').some((c) => c.startsWith(`${NAME}=`))).toBe(false);
    }
  });
});
