// HTML injection (issue 11): every page Gatehouse renders itself — error pages carrying the
// request's path, host or query, the 403 page (user name from the IdP, group names from config),
// the IdP chooser (rd, display names), the logout confirmation, an IdP's error_description, a
// refused upgrade's Origin — shows a payload escaped or not at all, and every HTML page carries a
// CSP under which nothing could run anyway. One row of html-injection.cases.tsv per test; raw
// requests (the path and Host reach Gatehouse as written) to real Gatehouses and a real IdP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoIdp, type DemoIdp } from '../../src/demo/idp.ts';
import { escapeHtml } from '../../src/http/pages.ts';
import { loadCases, type CaseRow } from '../support/case-table.ts';
import { CLIENT_ID, CLIENT_SECRET } from '../support/oidc.ts';
import { sendRaw, type RawResponse } from '../support/raw-http.ts';
import { freePort } from '../support/ports.ts';
import { idpMetadata, makeKeyPair, writeTemp } from '../support/saml-idp.ts';
import { startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';

const ROWS = loadCases(new URL('./html-injection.cases.tsv', import.meta.url));
const SECRET = 'html-suite-session-secret-0123456789abcdef';
const UPSTREAM = 'http://127.0.0.1:9'; // never reached: every case is answered by Gatehouse
const payloadsOf = (page: string) => [...new Set(ROWS.filter((r) => r.page === page).map((r) => r.payload!))];
const DISPLAY_NAMES = payloadsOf('chooser-display-name');
const GROUP_NAMES = payloadsOf('forbidden-groups');
const HTML = 'Accept: text/html,application/xhtml+xml\r\nSec-Fetch-Mode: navigate\r\n';
const JSON_ = 'Accept: application/json\r\n';
const identity = (user: string, groups: string[] = ['staff']) => ({
  user,
  email: 'someone@corp.example',
  name: 'Someone',
  groups,
  idp: 'corp',
  method: 'test',
});

describe('HTML injection in the pages Gatehouse renders', () => {
  let idp: DemoIdp;
  let main: StartedGatehouse;
  let narrow: StartedGatehouse;

  beforeAll(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    idp = await startDemoIdp({
      clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${url}/.gatehouse/oidc/oidc/callback`] }],
    });
    const metadata = writeTemp('idp-metadata.xml', idpMetadata([makeKeyPair()], 'https://idp.test.example/sso'));
    const saml = (id: string, display: string) => ({
      id,
      type: 'saml',
      display_name: display,
      idp_metadata_file: metadata,
      sp_entity_id: `https://gatehouse.test/saml/${id}`,
    });
    const common = {
      log_level: 'silent',
      admin: { listen: '127.0.0.1:0' },
      session: { store: 'memory', secret: SECRET, cookie: { secure: false } },
    };
    [main, narrow] = await Promise.all([
      startTestGatehouse(
        {
          ...common,
          server: { listen: `127.0.0.1:${port}`, public_url: url, shutdown_timeout: '1s' },
          identity_providers: [
            { id: 'oidc', type: 'oidc', issuer: idp.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
            saml('corp', 'Corp SSO'),
            ...DISPLAY_NAMES.map((d, i) => saml(`dn${i}`, d)),
          ],
          routes: [
            { name: 'pub', path: '/pub', upstream: UPSTREAM, allow: { public: true } },
            { name: 'admin', path: '/admin', upstream: UPSTREAM, allow: { groups: ['admins'] } },
            ...GROUP_NAMES.map((g, i) => ({ name: `g${i}`, path: `/g${i}`, upstream: UPSTREAM, allow: { groups: [g] } })),
            { name: 'rest', path: '/', upstream: UPSTREAM, allow: { authenticated: true } },
          ],
        },
        { keepRunning: true },
      ),
      // No catch-all route: unknown paths get the 404 page that names the host and path.
      startTestGatehouse(
        {
          ...common,
          server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', shutdown_timeout: '1s' },
          routes: [{ name: 'app', path: '/app', upstream: UPSTREAM, allow: { public: true } }],
        },
        { keepRunning: true },
      ),
    ]);
    await main.current().providers.oidc.get('oidc')!.ready();
  });
  afterAll(async () => {
    await Promise.all([main?.shutdown(), narrow?.shutdown()]);
    await idp?.close();
  });

  async function session(gh: StartedGatehouse, user: string, groups?: string[]): Promise<string> {
    const sessions = gh.current().sessions;
    return `${sessions.cookie.name}=${(await sessions.create(identity(user, groups))).cookieValue}`;
  }

  async function request(gh: StartedGatehouse, head: string, hostHeader?: string): Promise<RawResponse> {
    const host = hostHeader ?? new URL(gh.url).host;
    const r = await sendRaw(gh.url, head.replace('{HOST}', host));
    expect(r.responses.length, r.received.toString('latin1').slice(0, 200)).toBe(1);
    return r.responses[0]!;
  }

  const get = (target: string, extra: string) => `GET ${target} HTTP/1.1\r\nHost: {HOST}\r\n${extra}Connection: close\r\n\r\n`;

  /** Put `p` where `page` takes it and return the response. */
  async function render(page: string, p: string): Promise<RawResponse> {
    const enc = encodeURIComponent(p);
    switch (page) {
      case 'no-route-path-raw':
        return request(narrow, get(`/nothing/${p}`, HTML));
      case 'no-route-path-encoded':
        return request(narrow, get(`/nothing/${enc}`, HTML));
      case 'no-route-path-json':
        return request(narrow, get(`/nothing/${enc}`, JSON_));
      case 'bad-path':
        return request(main, get(`/pub/${enc}%2fx`, HTML));
      case 'bad-host':
        return request(main, get('/pub/x', HTML), p);
      case 'login-unknown-idp':
        return request(main, get(`/.gatehouse/login?idp=${enc}&rd=%2F`, HTML));
      case 'chooser-rd':
        return request(main, get(`/.gatehouse/login?rd=${enc}`, HTML));
      case 'chooser-display-name':
        return request(main, get('/.gatehouse/login?rd=%2F', HTML));
      case 'forbidden-user':
        return request(main, get('/admin/x', `${HTML}Cookie: ${await session(main, p)}\r\n`));
      case 'forbidden-groups':
        return request(main, get(`/g${GROUP_NAMES.indexOf(p)}/x`, `${HTML}Cookie: ${await session(main, 'someone@corp.example')}\r\n`));
      case 'logout-user':
        return request(main, get('/.gatehouse/logout', `${HTML}Cookie: ${await session(main, p)}\r\n`));
      case 'userinfo-user':
        return request(main, get('/.gatehouse/userinfo', `${JSON_}Cookie: ${await session(main, p)}\r\n`));
      case 'ws-origin':
        return request(
          main,
          `GET /pub/ws HTTP/1.1\r\nHost: {HOST}\r\n${HTML}Origin: ${p}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
        );
      case 'oidc-error-description': {
        // A real pending sign-in (state + login cookie), answered by an "IdP" error redirect.
        const start = await request(main, get('/.gatehouse/login?idp=oidc&rd=%2F', HTML));
        expect(start.status).toBe(302);
        const state = new URL(start.header('location')!).searchParams.get('state')!;
        const login = start
          .headerAll('set-cookie')
          .find((c) => c.includes('-login='))!
          .split(';')[0]!;
        return request(
          main,
          get(
            `/.gatehouse/oidc/oidc/callback?state=${encodeURIComponent(state)}&iss=${encodeURIComponent(idp.issuer)}&error=access_denied&error_description=${enc}`,
            `${HTML}Cookie: ${login}\r\n`,
          ),
        );
      }
      default:
        throw new Error(`unknown page ${page}`);
    }
  }

  it.each(ROWS.map((r) => [r.id!, r] as const))('%s', async (id, row: CaseRow) => {
    const p = row.payload!;
    const res = await render(row.page!, p);
    const body = res.text();
    const type = res.header('content-type') ?? '';
    if (row.expect === 'json') {
      expect(type, id).toMatch(/^application\/json/);
      expect(res.header('x-content-type-options'), id).toBe('nosniff');
      return;
    }
    if (res.status >= 300 && res.status < 400) {
      // A redirect has no page to inject into; its Location must not be a script URL.
      expect(res.header('location') ?? '', id).not.toMatch(/^\s*(javascript|data):/i);
      return;
    }
    expect(type, `${id}: ${res.status}`).toMatch(/^text\/html/);
    // Defence in depth: whatever slipped through could not run or be framed.
    expect(res.header('content-security-policy'), id).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
    );
    expect(body, id).not.toContain(p);
    if (row.expect === 'escaped') expect(body, id).toContain(escapeHtml(p));
    else if (row.expect === 'no-js-href') expect(body, id).not.toMatch(/href\s*=\s*["']?\s*(javascript|data):/i);
    else expect(row.expect, id).toBe('absent');
  });
});
