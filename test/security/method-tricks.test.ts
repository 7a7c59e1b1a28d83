// Method tricks (issue 11 weaknesses): override headers that frameworks honour (Rails/Rack,
// Express method-override, ASP.NET, OData, Play) must not reach the upstream, HEAD is judged like
// GET, methods are matched as sent (and odd spellings never reach the upstream), and query-string
// overrides are documented as passed through. Raw requests to a real Gatehouse and a real upstream
// that records what it received; one row of method-tricks.cases.tsv per test.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCases } from '../support/case-table.ts';
import { sendRaw } from '../support/raw-http.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';

const ROWS = loadCases(new URL('./method-tricks.cases.tsv', import.meta.url));
const SECRET = 'method-suite-session-secret-0123456789abcdef';
const person = (user: string, groups: string[]) => ({ user, email: user, name: user, groups, idp: 'corp', method: 'test' });
const PEOPLE = {
  user: person('user@corp.example', ['staff']),
  admin: person('admin@corp.example', ['staff', 'admins']),
  analyst: person('analyst@corp.example', ['staff', 'analysts']),
};

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

describe('method tricks', () => {
  let server: Server;
  let gh: StartedGatehouse;
  const seen = new Map<string, Seen>();
  const cookies: Record<string, string> = {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.set(String(req.headers['x-case']), { method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' });
      res.end(req.method === 'HEAD' ? undefined : '{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gh = await startTestGatehouse(
      {
        ...baseConfig(upstream),
        session: { store: 'memory', secret: SECRET, cookie: { secure: false } },
        routes: [
          {
            name: 'api',
            path: '/api',
            upstream,
            allow: { authenticated: true },
            rules: [
              { path: '/api/items', methods: ['DELETE', 'PUT', 'PATCH'], allow: { groups: ['admins'] } },
              { path: '/api/reports', methods: ['GET'], allow: { groups: ['analysts'] } },
              { path: '/api/status', methods: ['GET'], public: true },
            ],
          },
        ],
      },
      { keepRunning: true },
    );
    const sessions = gh.current().sessions;
    for (const [who, identity] of Object.entries(PEOPLE))
      cookies[who] = `${sessions.cookie.name}=${(await sessions.create(identity)).cookieValue}`;
  });
  afterAll(async () => {
    await gh?.shutdown();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  it.each(ROWS.map((r) => [r.id!, r] as const))('%s', async (id, row) => {
    const host = new URL(gh.url).host;
    const cookie = row.as === 'anon' ? '' : `Cookie: ${cookies[row.as!]}\r\n`;
    const extra = row.headers ? `${row.headers}\r\n` : '';
    const bytes = `${row.method} ${row.target} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nX-Case: ${id}\r\n${cookie}${extra}Connection: close\r\n\r\n`;
    const r = await sendRaw(gh.url, bytes, { methods: [row.method!] });
    const res = r.responses[0];
    expect(res, `${id}: ${r.received.toString('latin1').slice(0, 120)}`).toBeDefined();
    const got = seen.get(id);
    for (const a of row.expect!.split('|')) {
      const [op, arg = ''] = [a.slice(0, a.indexOf(':')), a.slice(a.indexOf(':') + 1)];
      switch (op) {
        case 'status':
          expect(res!.status, id).toBe(Number(arg));
          break;
        case 'upstream':
          expect(arg).toBe('none');
          expect(got, `${id}: reached the upstream`).toBeUndefined();
          break;
        case 'upstream-method':
          expect(got?.method, id).toBe(arg);
          break;
        case 'upstream-target':
          expect(got?.url, id).toBe(arg);
          break;
        case 'upstream-absent': {
          expect(got, id).toBeDefined();
          // Any spelling: Node lower-cases names; "_" variants are checked as sent.
          const names = Object.keys(got!.headers).map((n) => n.replace(/_/g, '-'));
          expect(names, id).not.toContain(arg.replace(/_/g, '-'));
          break;
        }
        default:
          throw new Error(`unknown assertion ${a}`);
      }
    }
  });
});
