// Response header attack suite (issue 11 breach 6 and the response-side weaknesses): what reaches
// the browser on every path a response takes — proxied HTTP, a WebSocket's 101, a refused upgrade
// (401, 302, 500 from the upstream) — and on every response Gatehouse writes itself, for each row
// of response-headers.cases.tsv. The upstream is a raw TCP server writing exactly the row's header
// bytes; the client reads raw bytes too, so nothing is normalised on either side.
import { createHash } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../support/audit-receivers.ts';
import { loadCases, type CaseRow } from '../support/case-table.ts';
import { parseResponses, sendRaw, type RawResponse } from '../support/raw-http.ts';
import { idpMetadata, makeKeyPair, writeTemp } from '../support/saml-idp.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { deadPort } from '../support/upstream.ts';

const ROWS = loadCases(new URL('./response-headers.cases.tsv', import.meta.url));
const NAME = '__Host-gatehouse';
const BASE = 'gatehouse';
const SECRET = 'response-suite-session-secret-0123456789abcdef';
const USER = { user: 'user@corp.example', email: 'user@corp.example', name: 'User', groups: ['staff'], idp: 'corp', method: 'test' };
const MODES = ['http', 'ws101', 'ws401', 'ws302', 'ws500'] as const;
type Mode = (typeof MODES)[number] | 'https';

const fill = (s: string) => s.replace(/\{N\}/g, NAME).replace(/\{B\}/g, BASE);

function wheres(where: string): Mode[] {
  return where.split(' ').flatMap((w) => (w === 'all' ? [...MODES] : w === 'refused' ? ['ws401', 'ws302', 'ws500'] : [w as Mode]));
}

/** [label, row, mode] for every (row, where) pair of the given kinds. */
function expand(kinds: readonly string[]): (readonly [string, CaseRow, Mode])[] {
  return ROWS.filter((r) => kinds.includes(r.kind!)).flatMap((r) => wheres(r.where!).map((m) => [`${r.id} (${m})`, r, m] as const));
}

/**
 * The upstream: a TCP server that reads request heads (no bodies) and answers
 * `…/case/<id>/<mode>` with that row's header lines: 200 for http, 101 for ws101 (a valid
 * handshake, then it closes), the status for ws401/ws302/ws500 (then it closes).
 */
async function startRawUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = '';
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        answer(socket, head);
      }
    });
  });
  const answer = (socket: Socket, head: string) => {
    const [line = '', ...fields] = head.split('\r\n');
    const target = line.split(' ')[1] ?? '/';
    const m = /\/case\/([^/?]+)\/([a-z0-9]+)/.exec(target);
    const row = m ? ROWS.find((r) => r.id === m[1]) : undefined;
    const mode = m?.[2] ?? 'http';
    let lines = '';
    if (row?.kind === 'set-cookie') lines = `Set-Cookie: app=1\r\nSet-Cookie: ${fill(row.upstream!)}\r\n`;
    else if (row?.kind === 'headers') lines = `${fill(row.upstream!)}\r\n`;
    if (mode === 'ws101') {
      const key =
        fields
          .find((f) => f.toLowerCase().startsWith('sec-websocket-key:'))
          ?.slice(18)
          .trim() ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.end(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${lines}\r\n`,
      );
      return;
    }
    const status = mode.startsWith('ws') ? Number(mode.slice(2)) : 200;
    const response = `HTTP/1.1 ${status} Whatever\r\n${lines}${status === 302 ? 'Location: /elsewhere\r\n' : ''}Content-Length: 2\r\n\r\nok`;
    if (mode.startsWith('ws')) socket.end(response);
    else socket.write(response);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Send raw bytes over TLS (certificate not checked: a self-signed test one) and read until close. */
function sendRawTls(url: string, bytes: string): Promise<RawResponse[]> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tlsConnect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false });
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.once('secureConnect', () => socket.write(bytes, 'latin1'));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponses(Buffer.concat(chunks), { ended: true }).responses);
    });
  });
}

function check(res: RawResponse, expect_: string, label: string): void {
  for (const a of expect_.split('|')) {
    const colon = a.indexOf(':');
    const op = a.slice(0, colon);
    const arg = a.slice(colon + 1);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = eq === -1 ? '' : arg.slice(eq + 1);
    const got = res.headerAll(name);
    switch (op) {
      case 'status':
        expect(res.status, label).toBe(Number(arg));
        break;
      case 'absent':
        expect(got, `${label}: ${name}`).toEqual([]);
        break;
      case 'present':
        expect(got.length, `${label}: ${name}`).toBeGreaterThan(0);
        break;
      case 'equals':
        expect(got, `${label}: ${name}`).toEqual([value]);
        break;
      case 'differs':
        expect(got.length, `${label}: ${name}`).toBe(1);
        expect(got[0], `${label}: ${name}`).not.toBe(value);
        break;
      case 'contains':
        expect(got.join(', '), `${label}: ${name}`).toContain(value);
        break;
      default:
        throw new Error(`unknown assertion ${a}`);
    }
  }
}

interface Setup {
  gh: StartedGatehouse;
  cookie: string;
}

async function startSetup(upstream: string, tls?: { certFile: string; keyFile: string }): Promise<Setup> {
  const idpKeys = makeKeyPair();
  const metadata = writeTemp('idp-metadata.xml', idpMetadata([idpKeys], 'https://idp.test.example/sso'));
  const base = baseConfig(upstream);
  const gh = await startTestGatehouse(
    {
      ...base,
      server: { ...(base.server as object), ...(tls ? { tls: { cert_file: tls.certFile, key_file: tls.keyFile } } : {}) },
      session: { store: 'memory', secret: SECRET, cookie: { secure: true } },
      identity_providers: [
        {
          id: 'corp',
          type: 'saml',
          display_name: 'Corp SSO',
          idp_metadata_file: metadata,
          sp_entity_id: 'https://gatehouse.test/saml/corp',
        },
        {
          id: 'partner',
          type: 'saml',
          display_name: 'Partner SSO',
          idp_metadata_file: metadata,
          sp_entity_id: 'https://gatehouse.test/saml/partner',
        },
      ],
      routes: [
        { name: 'pub', path: '/pub', upstream, allow: { public: true } },
        { name: 'app', path: '/app', upstream, allow: { authenticated: true } },
        { name: 'admin', path: '/admin', upstream, allow: { groups: ['admins'] } },
        { name: 'down', path: '/down', upstream: `http://127.0.0.1:${await deadPort()}`, allow: { authenticated: true } },
        // /.gatehouse/* needs a route on the host (for now); nothing is proxied to it here.
        { name: 'rest', path: '/', upstream, allow: { groups: ['nobody'] } },
      ],
    },
    { keepRunning: true },
  );
  const sessions = gh.current().sessions;
  expect(sessions.cookie.name).toBe(NAME);
  const s = await sessions.create(USER);
  return { gh, cookie: `${NAME}=${s.cookieValue}` };
}

const HTML = 'Accept: text/html,application/xhtml+xml\r\nSec-Fetch-Mode: navigate\r\n';
const JSON_ = 'Accept: application/json\r\n';
const WS_HEAD = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** The raw request for an own-response scenario. */
async function scenario(name: string, s: Setup, host: string): Promise<string> {
  const get = (target: string, extra: string) => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`;
  const fakeSession = `${NAME}=${'A'.repeat(43)}.${'B'.repeat(22)}`;
  switch (name) {
    case 'unauth-redirect':
      return get('/app/x', HTML);
    case 'unauth-json':
      return get('/app/x', JSON_);
    case 'forbidden-page':
      return get('/admin/x', `${HTML}Cookie: ${s.cookie}\r\n`);
    case 'not-found-page':
      return get('/.gatehouse/nothing-here', HTML);
    case 'bad-path-page':
      return get('/pub/a%2fb', HTML);
    case 'upstream-down-page':
      return get('/down/x', `${HTML}Cookie: ${s.cookie}\r\n`);
    case 'userinfo':
      return get('/.gatehouse/userinfo', `${JSON_}Cookie: ${s.cookie}\r\n`);
    case 'logout-confirm':
      return get('/.gatehouse/logout', `${HTML}Cookie: ${s.cookie}\r\n`);
    case 'chooser':
      return get('/.gatehouse/login?rd=%2Fapp', HTML);
    case 'login-redirect':
      return get('/.gatehouse/login?idp=corp&rd=%2Fapp', HTML);
    case 'jwks':
      return get('/.gatehouse/jwks', JSON_);
    case 'dead-cookie':
      return get('/app/x', `${JSON_}Cookie: ${fakeSession}\r\n`);
    case 'upgrade-refused':
      return `GET /.gatehouse/ws HTTP/1.1\r\nHost: ${host}\r\n${WS_HEAD}\r\n`;
    case 'logout-post': {
      // A session of its own: this one really ends.
      const sessions = s.gh.current().sessions;
      const own = await sessions.create(USER);
      const body = `csrf=${encodeURIComponent(sessions.csrfToken(own.key))}`;
      return `POST /.gatehouse/logout HTTP/1.1\r\nHost: ${host}\r\n${HTML}Cookie: ${NAME}=${own.cookieValue}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    }
    default:
      throw new Error(`unknown scenario ${name}`);
  }
}

describe('response headers', () => {
  let upstream: Awaited<ReturnType<typeof startRawUpstream>>;
  let plain: Setup;
  let tls: Setup;

  beforeAll(async () => {
    upstream = await startRawUpstream();
    const cert = selfSignedCert();
    [plain, tls] = await Promise.all([startSetup(upstream.url), startSetup(upstream.url, cert)]);
  });
  afterAll(async () => {
    await Promise.all([plain?.gh.shutdown(), tls?.gh.shutdown()]);
    await upstream?.close();
  });

  /** One proxied request as `as` in `mode`; the client-side response. */
  async function proxied(row: CaseRow, mode: Mode): Promise<RawResponse> {
    const setup = mode === 'https' ? tls : plain;
    const host = new URL(setup.gh.url).host;
    const prefix = row.as === 'anon' || row.as === 'user-public' ? '/pub' : '/app';
    const cookie = row.as === 'anon' ? '' : `Cookie: ${setup.cookie}\r\n`;
    const upstreamMode = mode === 'https' ? 'http' : mode;
    const target = `${prefix}/case/${row.id}/${upstreamMode}`;
    const head = mode.startsWith('ws')
      ? `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${WS_HEAD}${cookie}\r\n`
      : `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${JSON_}${cookie}Connection: close\r\n\r\n`;
    if (mode === 'https') {
      const responses = await sendRawTls(setup.gh.url, head);
      expect(responses.length).toBe(1);
      return responses[0]!;
    }
    const r = await sendRaw(setup.gh.url, head);
    expect(r.responses.length, `${row.id} ${mode}: ${r.received.toString('latin1').slice(0, 200)}`).toBe(1);
    return r.responses[0]!;
  }

  it.each(expand(['set-cookie']))('%s: an upstream Set-Cookie is filtered by name and content', async (label, row, mode) => {
    const res = await proxied(row, mode);
    expect(res.status).toBe(mode === 'http' ? 200 : Number(mode.slice(2)));
    const cookies = res.headerAll('set-cookie');
    expect(cookies, label).toContain('app=1');
    if (row.expect === 'drop') expect(cookies, label).toEqual(['app=1']);
    else expect(cookies, label).toEqual(['app=1', fill(row.upstream!)]);
  });

  it.each(expand(['headers']))('%s: response headers follow the same rules on every path', async (label, row, mode) => {
    const res = await proxied(row, mode);
    if (!row.expect!.includes('status:')) expect(res.status).toBe(mode === 'http' || mode === 'https' ? 200 : Number(mode.slice(2)));
    check(res, fill(row.expect!), label);
  });

  it.each(ROWS.filter((r) => r.kind === 'own').map((r) => [r.id!, r] as const))(
    "%s: Gatehouse's own responses cannot be framed, sniffed or cached",
    async (id, row) => {
      const setup = row.where === 'tls' ? tls : plain;
      const bytes = await scenario(row.upstream!, setup, new URL(setup.gh.url).host);
      let res: RawResponse | undefined;
      if (row.where === 'tls') res = (await sendRawTls(setup.gh.url, bytes))[0];
      else res = (await sendRaw(setup.gh.url, bytes)).responses[0];
      expect(res, id).toBeDefined();
      check(res!, row.expect!, id);
    },
  );
});
