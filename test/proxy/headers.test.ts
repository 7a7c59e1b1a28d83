// Header rewriting between client and upstream (src/proxy/headers.ts), at unit level but on real
// requests: every Exchange is built the way the pipeline builds it (new Exchange over the
// IncomingMessage and socket of a request that came in over loopback, its client resolved by
// createClientResolver), and every upstream response header set is what Node's HTTP client parsed
// from bytes a raw upstream wrote. Requests and responses are written byte for byte, so repeated
// lines, blanks and odd names reach Node's parsers exactly as a client or upstream would send them.
// The last sections state the request rules again as tables over plain inputs (no socket), the
// spoofed headers from test/fixtures/spoofed-headers.txt among them.
//
// The properties that matter: no hop-by-hop header crosses Gatehouse in either direction, nothing
// a client sends can pose as a header only Gatehouse may set (X-Forwarded-*, X-Request-Id, the
// identity headers, method overrides), Gatehouse's cookies never reach the upstream, and no
// upstream Set-Cookie can write a Gatehouse cookie.
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientResponseHeaders,
  stripCookie,
  upstreamRequestFacts,
  upstreamRequestHeaders,
  type UpstreamHeaderContext,
  type UpstreamRequestFacts,
} from '../../src/proxy/headers.ts';
import { Exchange } from '../../src/http/exchange.ts';
import { createClientResolver } from '../../src/http/forwarded.ts';
import { selfSignedCert } from '../support/audit-receivers.ts';

type Listener = 'v4' | 'dual' | 'tls';

interface Sent {
  /** Which loopback listener Gatehouse's side listens on (default v4). */
  readonly via?: Listener;
  /** Local address the client connects from (the peer Gatehouse sees); default 127.0.0.5. */
  readonly from?: string;
  /** Header lines after the request line (Host: app.example is added first unless one is given). */
  readonly lines: readonly string[];
  /** Bytes after the head (a chunked body's terminator). */
  readonly body?: string;
  /** trusted_proxies of the resolver (default none). */
  readonly trusted?: readonly string[];
}

const servers = new Map<Listener, { server: Server; port: number }>();
let onExchange: ((req: IncomingMessage, res: ServerResponse | undefined, socket: Duplex) => void) | undefined;
let certDir: string | undefined;

function take(req: IncomingMessage, res: ServerResponse | undefined, socket: Duplex): void {
  const f = onExchange;
  onExchange = undefined;
  f?.(req, res, socket);
}

function attach(server: Server): Server {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    take(req, res, req.socket);
    res.writeHead(204, { connection: 'close' }).end();
  });
  // A WebSocket handshake arrives here, without a ServerResponse (as in the pipeline).
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    take(req, undefined, socket);
    socket.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
  });
  return server;
}

async function listen(server: Server | NetServer, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

let upstream: NetServer;
let upstreamPort = 0;
/** What the raw upstream answers to the next request: the exact bytes of a response. */
let upstreamAnswer = '';

beforeAll(async () => {
  const cert = selfSignedCert();
  certDir = cert.dir;
  servers.set('v4', { server: attach(createHttpServer()), port: 0 });
  // Listening on "::" without ipv6Only: IPv4 clients appear as "::ffff:127.x.y.z".
  servers.set('dual', { server: attach(createHttpServer()), port: 0 });
  servers.set('tls', { server: attach(createHttpsServer({ key: cert.key, cert: cert.cert })), port: 0 });
  const hosts: Record<Listener, string> = { v4: '127.0.0.1', dual: '::', tls: '127.0.0.1' };
  for (const [name, entry] of servers) servers.set(name, { server: entry.server, port: await listen(entry.server, hosts[name]) });
  upstream = createNetServer((socket) => {
    let head = '';
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end(upstreamAnswer, 'latin1');
    });
  });
  upstreamPort = await listen(upstream, '127.0.0.1');
});

afterAll(async () => {
  for (const { server } of servers.values()) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

/**
 * Send one request over loopback and, while its connection is open, build its Exchange as the
 * pipeline does and hand it to `use`; resolves with what `use` returned.
 */
async function onRequest<T>(sent: Sent, use: (ex: Exchange) => T): Promise<T> {
  const via = sent.via ?? 'v4';
  const { port } = servers.get(via)!;
  const resolveClient = createClientResolver(sent.trusted ?? []);
  const seen = new Promise<T>((resolve, reject) => {
    onExchange = (req, res, socket) => {
      try {
        resolve(use(new Exchange('req-1', performance.now(), req, res, socket, resolveClient(req))));
      } catch (err) {
        reject(err as Error);
      }
    };
  });
  const tcp = netConnect({ host: '127.0.0.1', port, localAddress: sent.from ?? '127.0.0.5' });
  // The test certificate is self-signed; what is tested is the server's view of the request.
  const socket: Socket = via === 'tls' ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('data', () => {});
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
  const lines = sent.lines.some((l) => /^host:/i.test(l)) ? sent.lines : ['Host: app.example', ...sent.lines];
  socket.write([`GET /p?q=1 HTTP/1.1`, ...lines, '', sent.body ?? ''].join('\r\n'), 'latin1');
  const [result] = await Promise.all([seen, closed]);
  return result;
}

/** The headers Node's HTTP client parses from an upstream that answers with exactly these lines. */
async function upstreamSays(status: string, lines: readonly string[], body = ''): Promise<IncomingHttpHeaders> {
  upstreamAnswer = [`HTTP/1.1 ${status}`, ...lines, '', body].join('\r\n');
  const upgrade = status.startsWith('101');
  return new Promise<IncomingHttpHeaders>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: upstreamPort,
      path: '/',
      agent: false,
      headers: upgrade ? { connection: 'Upgrade', upgrade: 'websocket' } : { connection: 'close' },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve(res.headers));
    });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.headers);
    });
    req.end();
  });
}

const COOKIE = '__Host-gatehouse';

function context(over: Partial<UpstreamHeaderContext> = {}): UpstreamHeaderContext {
  return {
    upstreamHost: 'backend.internal:8080',
    preserveHost: false,
    keepUpgrade: false,
    cookieName: COOKIE,
    reservedNames: new Set(['remote-user']),
    ...over,
  };
}

/** Upstream request headers of a request sent with `lines`. */
function sendUpstream(sent: Sent, ctx: UpstreamHeaderContext = context(), prepare?: (ex: Exchange) => void) {
  return onRequest(sent, (ex) => {
    prepare?.(ex);
    return upstreamRequestHeaders(ex.req.headers, upstreamRequestFacts(ex), ctx);
  });
}

/** Client response headers for an upstream response, on an exchange of a plain request. */
async function toClient(status: string, lines: readonly string[], prepare?: (ex: Exchange) => void, sent: Sent = { lines: [] }, body = '') {
  const headers = await upstreamSays(status, lines, body);
  return onRequest(sent, (ex) => {
    prepare?.(ex);
    return clientResponseHeaders(ex, Number(status.slice(0, 3)), headers, COOKIE);
  });
}

describe('upstreamRequestHeaders: what the client sent, minus what only travels one hop', () => {
  it('drops every hop-by-hop header, each on its own (RFC 9110 §7.6.1, RFC 9112 §7, RFC 9113 §8.2.2)', async () => {
    const sample: Record<string, string> = {
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      trailer: 'X-Checksum',
      upgrade: 'h2c',
      'proxy-authenticate': 'Basic realm="x"',
      'proxy-authorization': 'Basic dXNlcjpwYXNz',
      'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
    };
    for (const [name, value] of Object.entries(sample)) {
      const out = await sendUpstream({ lines: [`${name}: ${value}`, 'X-Kept: yes'] });
      expect(out[name], name).toBeUndefined();
      expect(out['x-kept'], name).toBe('yes');
    }
    // A chunked body's framing is the connection's, not the message's.
    const chunked = await sendUpstream({ lines: ['Transfer-Encoding: chunked', 'X-Kept: yes'], body: '0\r\n\r\n' });
    expect(chunked['transfer-encoding']).toBeUndefined();
    expect(chunked['x-kept']).toBe('yes');
  });

  it('passes end-to-end headers through as sent, repeated lines joined by Node', async () => {
    const out = await sendUpstream({
      lines: ['Accept: text/html', 'X-Custom: a', 'X-Custom: b', 'Authorization: Bearer abc', 'Content-Type: text/plain'],
    });
    expect(out).toMatchObject({ accept: 'text/html', 'x-custom': 'a, b', authorization: 'Bearer abc', 'content-type': 'text/plain' });
  });

  it('drops the headers Gatehouse sets itself, whatever the client wrote in them', async () => {
    const out = await sendUpstream({
      lines: [
        'Host: evil.example',
        'Expect: 100-continue',
        'Forwarded: for=203.0.113.9;host=evil.example',
        'X-Real-IP: 203.0.113.9',
        'X-Scheme: https',
        'X-Original-URL: /admin',
        'X-Rewrite-URL: /admin',
        'X-Request-Id: client-chosen',
        'X-Kept: yes',
      ],
    });
    expect(out.host).toBe('backend.internal:8080');
    expect(out['x-request-id']).toBe('req-1');
    for (const name of ['expect', 'forwarded', 'x-real-ip', 'x-scheme', 'x-original-url', 'x-rewrite-url'])
      expect(out[name], name).toBeUndefined();
    expect(out['x-kept']).toBe('yes');
  });

  it('drops method overrides in every spelling, so a POST cannot run as the DELETE a rule judged it not to be', async () => {
    for (const name of [
      'X-HTTP-Method-Override',
      'X-Method-Override',
      'X-HTTP-Method',
      'X_HTTP_Method_Override',
      'x_method_override',
      'X_HTTP_METHOD',
    ]) {
      const out = await sendUpstream({ lines: [`${name}: DELETE`, 'X-Kept: yes'] });
      expect(
        Object.keys(out).filter((k) => k.includes('method')),
        name,
      ).toEqual([]);
      expect(out['x-kept'], name).toBe('yes');
    }
  });

  it('drops underscore spellings of hop-by-hop and Gatehouse headers (WSGI/CGI read "_" as "-")', async () => {
    const names = [
      'Transfer_Encoding',
      'Proxy_Connection',
      'Keep_Alive',
      'Proxy_Authorization',
      'X_Real_IP',
      'X_Request_Id',
      'X_Original_URL',
      'X_Rewrite_URL',
    ];
    const out = await sendUpstream({ lines: [...names.map((n) => `${n}: spoofed`), 'X_Kept_Too: yes', 'Under_Score: yes'] });
    for (const n of names) expect(out[n.toLowerCase()], n).toBeUndefined();
    // Other underscore names are the upstream's business.
    expect(out['x_kept_too']).toBe('yes');
    expect(out['under_score']).toBe('yes');
  });

  it('drops identity headers: X-Forwarded-* and X-Gatehouse-* families and the configured names, in any spelling', async () => {
    const spoofed = [
      'X-Forwarded-User: admin',
      'X-Forwarded-Email: admin@corp.example',
      'X-Forwarded-Groups: admins',
      'X-Forwarded-Anything: x',
      'X_Forwarded_User: admin',
      'X-Gatehouse-Identity: admin',
      'x_gatehouse_user: admin',
      'Remote-User: admin',
      'Remote_User: admin',
    ];
    const out = await sendUpstream({
      lines: [
        ...spoofed,
        'X-Forwarded-By-Nobody-Else: no',
        'X-Forwardedfor: kept',
        'A-X-Forwarded-: kept',
        'A-X-Gatehouse-: kept',
        'Remote-User-Agent: kept',
      ],
    });
    for (const line of spoofed) expect(out[line.slice(0, line.indexOf(':')).toLowerCase()], line).toBeUndefined();
    expect(out['x-forwarded-by-nobody-else']).toBeUndefined();
    // Names that only contain a reserved name somewhere are someone else's.
    expect(out['x-forwardedfor']).toBe('kept');
    expect(out['a-x-forwarded-']).toBe('kept');
    expect(out['a-x-gatehouse-']).toBe('kept');
    expect(out['remote-user-agent']).toBe('kept');
  });

  it('drops what the client lists in Connection, but never what Gatehouse adds itself', async () => {
    const out = await sendUpstream({
      lines: [
        'Connection: keep-alive, X-Secret,  Authorization ',
        'Connection: X-Forwarded-For, X-Request-Id, Host',
        'X-Secret: s',
        'Authorization: Bearer t',
        'X-Kept: yes',
      ],
    });
    expect(out['x-secret']).toBeUndefined();
    expect(out.authorization).toBeUndefined();
    expect(out['x-kept']).toBe('yes');
    expect(out['x-forwarded-for']).toBe('127.0.0.5');
    expect(out['x-request-id']).toBe('req-1');
    expect(out.host).toBe('backend.internal:8080');
    // One listed name, no comma.
    const single = await sendUpstream({ lines: ['Connection: X-Secret', 'X-Secret: s', 'X-Kept: yes'] });
    expect(single['x-secret']).toBeUndefined();
    expect(single['x-kept']).toBe('yes');
  });

  it('a plain Connection: close or keep-alive removes nothing else', async () => {
    for (const c of ['close', 'keep-alive', 'Keep-Alive', 'upgrade', 'Upgrade']) {
      const out = await sendUpstream({ lines: [`Connection: ${c}`, 'X-Kept: yes', 'Accept: */*'] });
      expect(out, c).toMatchObject({ 'x-kept': 'yes', accept: '*/*' });
      expect(out.connection, c).toBeUndefined();
    }
  });
});

describe('upstreamRequestHeaders: Gatehouse cookies never reach the upstream', () => {
  it('strips the session cookie and every <name>-* cookie, in any prefix, keeping the others in order', async () => {
    const out = await sendUpstream({
      lines: ['Cookie: _xsrf=1; __Host-gatehouse=sess; gatehouse-login=l; mlflow=2; __secure-gatehouse=old; gatehousex=3'],
    });
    expect(out.cookie).toBe('_xsrf=1; mlflow=2; gatehousex=3');
  });

  it('removes the Cookie header when nothing else is left', async () => {
    const out = await sendUpstream({ lines: ['Cookie: __Host-gatehouse=sess', 'Cookie: __Host-gatehouse-login=l'] });
    expect(out).not.toHaveProperty('cookie');
  });

  it('leaves a Cookie header without any Gatehouse name exactly as sent', async () => {
    const out = await sendUpstream({ lines: ['Cookie: a=1;b=2 ;  c="x; y"'] });
    expect(out.cookie).toBe('a=1;b=2 ;  c="x; y"');
  });

  it('a Cookie the client lists in Connection stays dropped', async () => {
    const out = await sendUpstream({ lines: ['Connection: Cookie', 'Cookie: a=1; __Host-gatehouse=sess'] });
    expect(out).not.toHaveProperty('cookie');
  });
});

describe('stripCookie', () => {
  it('strips by the same parser that reads the cookies: exact names, no pair hidden in another value', () => {
    expect(stripCookie('a=1; gatehouse=x; b=2', 'gatehouse')).toBe('a=1; b=2');
    expect(stripCookie('x="1; gatehouse=planted"; b=2', 'gatehouse')).toBe('x="1; b=2');
    expect(stripCookie('nameless; gatehouse=x', '__Host-gatehouse')).toBe('nameless');
    expect(stripCookie('__Host-gatehouse=x', '__Host-gatehouse')).toBeUndefined();
    expect(stripCookie('a=gatehouse', 'gatehouse')).toBe('a=gatehouse');
  });
});

describe('upstreamRequestHeaders: X-Forwarded-*, request id, identity, Host and upgrades', () => {
  it('an untrusted client: X-Forwarded-For is its address alone, X-Forwarded-Proto the own scheme', async () => {
    const out = await sendUpstream({
      lines: ['X-Forwarded-For: 198.51.100.66', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: evil.example'],
    });
    expect(out['x-forwarded-for']).toBe('127.0.0.5');
    expect(out['x-forwarded-proto']).toBe('http');
    expect(out).not.toHaveProperty('x-forwarded-host');
    const tls = await sendUpstream({ via: 'tls', lines: ['X-Forwarded-Proto: http'] });
    expect(tls['x-forwarded-proto']).toBe('https');
  });

  it('behind a trusted proxy: its chain with the proxy itself appended', async () => {
    const trusted = ['127.0.0.0/24'];
    const out = await sendUpstream({
      from: '127.0.0.2',
      trusted,
      lines: ['X-Forwarded-For: 198.51.100.66, 203.0.113.7', 'X-Forwarded-Proto: https'],
    });
    expect(out['x-forwarded-for']).toBe('198.51.100.66, 203.0.113.7, 127.0.0.2');
    expect(out['x-forwarded-proto']).toBe('https');
    // Repeated lines are one chain (Node joins them).
    const repeated = await sendUpstream({
      from: '127.0.0.2',
      trusted,
      lines: ['X-Forwarded-For: 198.51.100.66', 'X-Forwarded-For: 203.0.113.7'],
    });
    expect(repeated['x-forwarded-for']).toBe('198.51.100.66, 203.0.113.7, 127.0.0.2');
    // A trusted peer that sent no chain: the client is the peer.
    const none = await sendUpstream({ from: '127.0.0.2', trusted, lines: [] });
    expect(none['x-forwarded-for']).toBe('127.0.0.2');
  });

  it('a trusted proxy whose connection is gone by the time the request is dispatched still gets its own hop', async () => {
    // Node keeps a socket's peer address once read, and resolving the client read it.
    const out = await sendUpstream(
      { from: '127.0.0.2', trusted: ['127.0.0.0/24'], lines: ['X-Forwarded-For: 198.51.100.66, 203.0.113.7'] },
      context(),
      (ex) => {
        ex.socket.destroy();
      },
    );
    expect(out['x-forwarded-for']).toBe('198.51.100.66, 203.0.113.7, 127.0.0.2');
  });

  it('an IPv4 proxy on a dual-stack socket is appended without "::ffff:"', async () => {
    const out = await sendUpstream({ via: 'dual', from: '127.0.0.2', trusted: ['127.0.0.0/24'], lines: ['X-Forwarded-For: 203.0.113.7'] });
    expect(out['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.2');
    const untrusted = await sendUpstream({ via: 'dual', from: '127.0.0.9', lines: ['X-Forwarded-For: 203.0.113.7'] });
    expect(untrusted['x-forwarded-for']).toBe('127.0.0.9');
  });

  it('X-Forwarded-Host is the served authority, and absent when there is none', async () => {
    const out = await sendUpstream({ lines: ['X-Forwarded-Host: evil.example'] }, context(), (ex) => {
      ex.servedAuthority = 'app.example:8443';
    });
    expect(out['x-forwarded-host']).toBe('app.example:8443');
  });

  it("identity headers are Gatehouse's, added after the client's were dropped", async () => {
    const out = await sendUpstream({ lines: ['X-Forwarded-User: admin', 'Remote-User: admin'] }, context(), (ex) => {
      ex.identityHeaders = { 'x-forwarded-user': 'alice', 'remote-user': 'alice', 'x-forwarded-groups': 'staff' };
    });
    expect(out).toMatchObject({ 'x-forwarded-user': 'alice', 'remote-user': 'alice', 'x-forwarded-groups': 'staff' });
  });

  it("Host: the upstream's, or with preserve_host the served authority (never the raw header)", async () => {
    const sent = { lines: ['Host: APP.example.:443'] };
    expect((await sendUpstream(sent)).host).toBe('backend.internal:8080');
    const served = (ex: Exchange) => {
      ex.servedAuthority = 'app.example';
    };
    expect((await sendUpstream(sent, context(), served)).host).toBe('backend.internal:8080');
    expect((await sendUpstream(sent, context({ preserveHost: true }), served)).host).toBe('app.example');
    // preserve_host but no served authority (a host-less route): the upstream's own.
    expect((await sendUpstream(sent, context({ preserveHost: true }))).host).toBe('backend.internal:8080');
  });

  it('WebSocket upgrades keep Upgrade and send Connection: upgrade; other requests keep neither', async () => {
    const handshake = [
      'Connection: Upgrade, X-Secret',
      'Upgrade: websocket',
      'X-Secret: s',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ];
    const ws = await sendUpstream({ lines: handshake }, context({ keepUpgrade: true }));
    expect(ws).toMatchObject({ connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(ws['x-secret']).toBeUndefined();
    const plain = await sendUpstream({ lines: handshake });
    expect(plain).not.toHaveProperty('connection');
    expect(plain).not.toHaveProperty('upgrade');
    // keepUpgrade without an Upgrade header: Connection only.
    const noUpgrade = await sendUpstream({ lines: ['X-Kept: yes'] }, context({ keepUpgrade: true }));
    expect(noUpgrade.connection).toBe('upgrade');
    expect(noUpgrade).not.toHaveProperty('upgrade');
  });
});

describe('clientResponseHeaders: what the upstream answered, minus what only travels one hop', () => {
  it('drops every hop-by-hop header, each on its own', async () => {
    const sample: Record<string, string> = {
      connection: 'close',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'close',
      te: 'trailers',
      trailer: 'X-Checksum',
      upgrade: 'h2c',
      'proxy-authenticate': 'Basic realm="proxy"',
      'proxy-authorization': 'Basic dXNlcjpwYXNz',
      'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
    };
    for (const [name, value] of Object.entries(sample)) {
      const out = await toClient('200 OK', [`${name}: ${value}`, 'X-Kept: yes', 'Content-Length: 0']);
      expect(out[name], name).toBeUndefined();
      expect(out['x-kept'], name).toBe('yes');
    }
    const chunked = await toClient('200 OK', ['Transfer-Encoding: chunked', 'X-Kept: yes'], undefined, { lines: [] }, '0\r\n\r\n');
    expect(chunked['transfer-encoding']).toBeUndefined();
    expect(chunked['x-kept']).toBe('yes');
  });

  it('drops what the upstream lists in Connection', async () => {
    const out = await toClient('200 OK', [
      'Connection: close, X-Internal-Token',
      'X-Internal-Token: t',
      'X-Kept: yes',
      'Content-Length: 0',
    ]);
    expect(out['x-internal-token']).toBeUndefined();
    expect(out['x-kept']).toBe('yes');
    const single = await toClient('200 OK', ['Connection: X-Internal-Token', 'X-Internal-Token: t', 'Content-Length: 0']);
    expect(single['x-internal-token']).toBeUndefined();
  });

  it('a 101 keeps Upgrade and says Connection: upgrade; the rest of the hop-by-hop headers still go', async () => {
    const out = await toClient('101 Switching Protocols', [
      'Upgrade: websocket',
      'Connection: Upgrade, X-Internal',
      'X-Internal: t',
      'Keep-Alive: timeout=5',
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    ]);
    expect(out).toMatchObject({
      upgrade: 'websocket',
      connection: 'upgrade',
      'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      'x-request-id': 'req-1',
    });
    expect(out['x-internal']).toBeUndefined();
    expect(out['keep-alive']).toBeUndefined();
    // Not a 101: Upgrade goes like any hop-by-hop header, and Connection is not added.
    const refused = await toClient('426 Upgrade Required', ['Upgrade: websocket', 'Content-Length: 0']);
    expect(refused).not.toHaveProperty('upgrade');
    expect(refused).not.toHaveProperty('connection');
  });

  it("sets the request id, replacing an upstream's", async () => {
    const out = await toClient('200 OK', ['X-Request-Id: upstream-id', 'Content-Length: 0']);
    expect(out['x-request-id']).toBe('req-1');
  });
});

describe('clientResponseHeaders: no upstream Set-Cookie writes a Gatehouse cookie', () => {
  /** The Set-Cookie values that reach the client for these upstream ones. */
  async function kept(...setCookies: string[]): Promise<string[] | undefined> {
    const out = await toClient('200 OK', [...setCookies.map((c) => `Set-Cookie: ${c}`), 'Content-Length: 0']);
    return out['set-cookie'] as string[] | undefined;
  }

  it("drops a Set-Cookie for the session or login cookie under any prefix, keeps the upstream's own", async () => {
    expect(
      await kept(
        'app=1; Path=/',
        '__Host-gatehouse=planted; Path=/; Secure',
        'gatehouse=planted',
        '__SECURE-gatehouse=planted',
        'gatehouse-login=planted',
        'other=2',
      ),
    ).toEqual(['app=1; Path=/', 'other=2']);
    expect(await kept('__Host-gatehouse=planted')).toBeUndefined();
  });

  it('trims blanks before "=" as browsers trim names: "gatehouse =x" sets gatehouse', async () => {
    expect(await kept('gatehouse =planted; Path=/')).toBeUndefined();
    expect(await kept('gatehouse\t=planted')).toBeUndefined();
    expect(await kept('__Host-gatehouse \t =planted')).toBeUndefined();
    expect(await kept('x=1; Path=/; gatehouse  =planted')).toBeUndefined();
  });

  it('finds our name anywhere as "<name>=": a nameless cookie, inside a value, in a later pair', async () => {
    expect(await kept('=gatehouse=planted')).toBeUndefined();
    expect(await kept('app="x gatehouse=planted"')).toBeUndefined();
    expect(await kept('app=1, gatehouse=planted')).toBeUndefined();
    expect(await kept('app=1; Path=/; x/gatehouse=planted')).toBeUndefined();
    expect(await kept('app=1; Comment=(gatehouse=planted)')).toBeUndefined();
  });

  it('keeps cookies whose names merely contain ours, and values that name it without "="', async () => {
    const names = [
      '0gatehouse',
      '9gatehouse',
      'Agatehouse',
      'Zgatehouse',
      'agatehouse',
      'zgatehouse',
      '!gatehouse',
      '~gatehouse',
      "'gatehouse",
      '_gatehouse',
      'my-gatehouse',
      'gatehousex',
    ];
    const set = names.map((n) => `${n}=1`);
    expect(await kept(...set)).toEqual(set);
    expect(await kept('app=gatehouse; Path=/gatehouse')).toEqual(['app=gatehouse; Path=/gatehouse']);
  });

  it('a name after a byte that is no token character is ours: separators end a name', async () => {
    for (const sep of ['"', '(', ')', ',', '/', ':', '<', '>', '?', '@', '[', '\\', ']', '{', '}', ' ', '\t']) {
      expect(await kept(`app=1${sep}gatehouse=planted`), JSON.stringify(sep)).toBeUndefined();
    }
  });

  it("adds Gatehouse's own cookies after the upstream's, and alone when the upstream set none", async () => {
    const clear = '__Host-gatehouse=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0';
    const withOurs = (ex: Exchange) => {
      ex.setCookies = [clear];
    };
    const both = await toClient('200 OK', ['Set-Cookie: app=1', 'Set-Cookie: gatehouse=planted', 'Content-Length: 0'], withOurs);
    expect(both['set-cookie']).toEqual(['app=1', clear]);
    const ours = await toClient('200 OK', ['Content-Length: 0'], withOurs);
    expect(ours['set-cookie']).toEqual([clear]);
    const onlyPlanted = await toClient('200 OK', ['Set-Cookie: gatehouse=planted', 'Content-Length: 0'], withOurs);
    expect(onlyPlanted['set-cookie']).toEqual([clear]);
    const none = await toClient('200 OK', ['Content-Length: 0']);
    expect(none).not.toHaveProperty('set-cookie');
  });
});

describe('clientResponseHeaders: HSTS and Cache-Control: private', () => {
  const tls: Sent = { via: 'tls', lines: [] };

  it('HSTS when Gatehouse terminates TLS, unless the upstream set its own; none over plain HTTP', async () => {
    expect((await toClient('200 OK', ['Content-Length: 0'], undefined, tls))['strict-transport-security']).toBe('max-age=31536000');
    const own = await toClient(
      '200 OK',
      ['Strict-Transport-Security: max-age=63072000; includeSubDomains; preload', 'Content-Length: 0'],
      undefined,
      tls,
    );
    expect(own['strict-transport-security']).toBe('max-age=63072000; includeSubDomains; preload');
    expect(await toClient('200 OK', ['Content-Length: 0'])).not.toHaveProperty('strict-transport-security');
  });

  const signedIn = (ex: Exchange) => {
    ex.identity = { user: 'alice', groups: ['staff'], idp: 'corp' };
  };

  it('a response to a signed-in request that says nothing about caching gets Cache-Control: private', async () => {
    expect((await toClient('200 OK', ['Content-Length: 0'], signedIn))['cache-control']).toBe('private');
  });

  it("leaves the upstream's caching alone, anonymous responses alone, and a 101 alone", async () => {
    expect((await toClient('200 OK', ['Cache-Control: public, max-age=60', 'Content-Length: 0'], signedIn))['cache-control']).toBe(
      'public, max-age=60',
    );
    const expires = await toClient('200 OK', ['Expires: Thu, 01 Jan 2099 00:00:00 GMT', 'Content-Length: 0'], signedIn);
    expect(expires).not.toHaveProperty('cache-control');
    expect(await toClient('200 OK', ['Content-Length: 0'])).not.toHaveProperty('cache-control');
    expect(await toClient('101 Switching Protocols', ['Upgrade: websocket', 'Connection: Upgrade'], signedIn)).not.toHaveProperty(
      'cache-control',
    );
  });
});

describe('a header named Close with Connection: close', () => {
  it('is dropped on the way upstream, as RFC 9110 §7.6.1 demands for every connection option', async () => {
    const out = await sendUpstream({ lines: ['Connection: close', 'Close: x', 'X-Kept: yes'] });
    expect(out['x-kept']).toBe('yes');
    expect(out).not.toHaveProperty('close');
  });
  it('is dropped on the way to the client', async () => {
    const out = await toClient('200 OK', ['Connection: close', 'Close: x', 'Content-Length: 0']);
    expect(out).not.toHaveProperty('close');
  });
});

// ---- The same request rules on plain inputs: tables, no socket ----
// upstreamRequestHeaders takes the client's headers as Node delivers them (names lower-cased,
// repeated lines joined, Set-Cookie aside) and facts settled before proxying, so each rule is one
// row here. The socket-level tests above prove Exchange and Node hand it exactly these inputs.

const SPOOFED = readFileSync(new URL('../fixtures/spoofed-headers.txt', import.meta.url), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

const SIGNED_IN: UpstreamRequestFacts = {
  client: { ip: '203.0.113.5', trusted: false, proto: 'https', host: 'app.example' },
  peer: '203.0.113.5',
  requestId: 'req-plain',
  servedAuthority: 'app.example',
  identityHeaders: {
    'x-forwarded-user': 'alice',
    'x-forwarded-email': 'alice@corp.example',
    'x-forwarded-groups': 'staff',
    'remote-user': 'alice',
  },
};
const ANONYMOUS: UpstreamRequestFacts = { ...SIGNED_IN, identityHeaders: undefined };

function plain(headers: IncomingHttpHeaders, facts: Partial<UpstreamRequestFacts> = {}, ctx: UpstreamHeaderContext = context()) {
  return upstreamRequestHeaders(headers, { ...SIGNED_IN, ...facts }, ctx);
}

describe('upstreamRequestHeaders (plain inputs): every spoofed header in test/fixtures/spoofed-headers.txt is stripped', () => {
  it('the fixture is read (a broken path would make the table below empty)', () => {
    expect(SPOOFED.length).toBeGreaterThan(20);
  });

  for (const [who, facts] of [
    ['anonymous', ANONYMOUS],
    ['signed in', SIGNED_IN],
  ] as const) {
    it.each(SPOOFED)(`${who}: a client-sent %s never reaches the upstream as sent`, (name) => {
      const out = upstreamRequestHeaders({ host: 'app.example', [name.toLowerCase()]: 'forged-admin', 'x-kept': 'yes' }, facts, context());
      expect(Object.entries(out).filter(([, v]) => String(v).includes('forged-admin'))).toEqual([]);
      expect(out['x-kept']).toBe('yes');
      // Gone, unless Gatehouse sets that name itself (then it carries Gatehouse's value).
      const own = (facts.identityHeaders ?? {})[name.toLowerCase()];
      expect(out[name.toLowerCase()]).toBe(own);
    });
  }

  it.each(['remote-user', 'remote_user', 'x-auth-request-user'])(
    'a configured identity header name (%s, in either spelling) is stripped',
    (name) => {
      const out = plain(
        { [name]: 'forged-admin' },
        { identityHeaders: undefined },
        context({ reservedNames: new Set(['remote-user', 'x-auth-request-user']) }),
      );
      expect(out).not.toHaveProperty(name);
    },
  );

  it('verdicts remembered per set of identity header names stay right, however many names clients invent', () => {
    const reserving = context({ reservedNames: new Set(['remote-user']) });
    const other = context({ reservedNames: new Set(['x-auth-request-user']) });
    for (let round = 0; round < 2; round++) {
      expect(plain({ 'remote-user': 'forged-admin', 'x-auth-request-user': 'x' }, { identityHeaders: undefined }, reserving)).toMatchObject(
        {
          'x-auth-request-user': 'x',
        },
      );
      expect(plain({ 'remote-user': 'forged-admin' }, { identityHeaders: undefined }, reserving)).not.toHaveProperty('remote-user');
      expect(plain({ 'remote-user': 'r', 'x-auth-request-user': 'forged' }, { identityHeaders: undefined }, other)).not.toHaveProperty(
        'x-auth-request-user',
      );
      expect(plain({ 'remote-user': 'r' }, { identityHeaders: undefined }, other)['remote-user']).toBe('r');
    }
    const invented: IncomingHttpHeaders = {};
    for (let i = 0; i < 3000; i++) invented[`x-made-up-${i}`] = 'v';
    expect(Object.keys(plain(invented, { identityHeaders: undefined }, reserving)).filter((n) => n.startsWith('x-made-up-'))).toHaveLength(
      3000,
    );
    for (const name of SPOOFED) {
      const out = upstreamRequestHeaders({ [name.toLowerCase()]: 'forged-admin', 'x-kept': 'yes' }, ANONYMOUS, reserving);
      expect(Object.values(out).filter((v) => String(v).includes('forged-admin'))).toEqual([]);
    }
  });

  it('a client that lists a spoofed header in Connection does not bring it back', () => {
    const out = plain({ connection: 'X-Forwarded-User', 'x-forwarded-user': 'forged-admin' });
    expect(out['x-forwarded-user']).toBe('alice');
  });
});

describe('upstreamRequestHeaders (plain inputs): hop-by-hop and Connection-listed headers', () => {
  const HOP = [
    'connection',
    'keep-alive',
    'proxy-connection',
    'transfer-encoding',
    'te',
    'trailer',
    'upgrade',
    'proxy-authenticate',
    'proxy-authorization',
    'http2-settings',
  ];

  it.each(HOP)('drops %s', (name) => {
    const out = plain({ [name]: 'x', 'x-kept': 'yes' });
    expect(out).not.toHaveProperty(name);
    expect(out['x-kept']).toBe('yes');
  });

  it.each(HOP)('drops %s in its underscore spelling too', (name) => {
    const under = name.replace(/-/g, '_');
    const out = plain({ [under]: 'x', 'x-kept': 'yes' });
    if (under !== name) expect(out).not.toHaveProperty(under);
    expect(out['x-kept']).toBe('yes');
  });

  const listed: readonly [connection: string, sent: Record<string, string>, dropped: readonly string[], kept: readonly string[]][] = [
    ['X-Secret', { 'x-secret': 's', 'x-kept': 'yes' }, ['x-secret'], ['x-kept']],
    [
      'keep-alive, X-Secret,  Authorization ',
      { 'x-secret': 's', authorization: 'Bearer t', 'x-kept': 'yes' },
      ['x-secret', 'authorization'],
      ['x-kept'],
    ],
    ['close, X-A', { 'x-a': '1', 'x-b': '2' }, ['x-a'], ['x-b']],
    ['close', { close: 'x', 'x-kept': 'yes' }, ['close'], ['x-kept']],
    ['Cookie', { cookie: 'a=1', 'x-kept': 'yes' }, ['cookie'], ['x-kept']],
    ['keep-alive', { accept: '*/*' }, [], ['accept']],
    [',,', { accept: '*/*' }, [], ['accept']],
  ];
  it.each(listed)('Connection: %j drops what it lists and nothing else', (connection, sent, dropped, kept) => {
    const out = plain({ connection, ...sent });
    for (const n of dropped) expect(out, n).not.toHaveProperty(n);
    for (const n of kept) expect(out[n], n).toBe(sent[n]);
    expect(out).not.toHaveProperty('connection');
  });

  it('what Gatehouse sets survives a Connection that lists it', () => {
    const out = plain({ connection: 'X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Request-Id, Host, X-Forwarded-User' });
    expect(out).toMatchObject({
      'x-forwarded-for': '203.0.113.5',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example',
      'x-request-id': 'req-plain',
      host: 'backend.internal:8080',
      'x-forwarded-user': 'alice',
    });
  });

  it("keepUpgrade (WebSocket): Connection: upgrade and the client's Upgrade; without it neither", () => {
    expect(plain({ connection: 'Upgrade', upgrade: 'websocket' }, {}, context({ keepUpgrade: true }))).toMatchObject({
      connection: 'upgrade',
      upgrade: 'websocket',
    });
    const none = plain({ connection: 'Upgrade' }, {}, context({ keepUpgrade: true }));
    expect(none.connection).toBe('upgrade');
    expect(none).not.toHaveProperty('upgrade');
    const plainReq = plain({ connection: 'Upgrade', upgrade: 'websocket' });
    expect(plainReq).not.toHaveProperty('connection');
    expect(plainReq).not.toHaveProperty('upgrade');
  });
});

describe('upstreamRequestHeaders (plain inputs): the Gatehouse cookies leave the Cookie header', () => {
  const rows: readonly [cookie: string, cookieName: string, upstream: string | undefined][] = [
    ['a=1; __Host-gatehouse=s; b=2', '__Host-gatehouse', 'a=1; b=2'],
    ['__Host-gatehouse=s', '__Host-gatehouse', undefined],
    ['gatehouse=s; gatehouse-login=l', '__Host-gatehouse', undefined],
    ['__Secure-gatehouse=old; __HOST-gatehouse-login=l; app=1', '__Host-gatehouse', 'app=1'],
    ['gatehousex=1; my-gatehouse=2; a=gatehouse', '__Host-gatehouse', 'gatehousex=1; my-gatehouse=2; a=gatehouse'],
    ['x="1; gatehouse=planted"; b=2', 'gatehouse', 'x="1; b=2'],
    ['a=1;b=2 ;  c="x; y"', '__Host-gatehouse', 'a=1;b=2 ;  c="x; y"'],
    ['nameless; gatehouse=x', 'gatehouse', 'nameless'],
  ];
  it.each(rows)('Cookie: %s (session cookie %s) -> %s', (cookie, cookieName, upstream) => {
    const out = plain({ cookie }, {}, context({ cookieName }));
    expect(out.cookie).toBe(upstream);
    if (upstream === undefined) expect(out).not.toHaveProperty('cookie');
  });
});

describe('upstreamRequestHeaders (plain inputs): X-Forwarded-*, X-Request-Id and Host are rebuilt', () => {
  const untrusted = { ip: '198.51.100.9', trusted: false, proto: 'http', host: 'app.example' } as const;
  const trusted = { ip: '198.51.100.9', trusted: true, proto: 'https', host: 'app.example' } as const;
  const xff: readonly [
    what: string,
    inbound: string | string[] | undefined,
    client: UpstreamRequestFacts['client'],
    peer: string,
    expected: string,
  ][] = [
    ['untrusted, forged chain: the client alone', '1.2.3.4, 5.6.7.8', untrusted, '198.51.100.9', '198.51.100.9'],
    ['untrusted, no chain', undefined, untrusted, '198.51.100.9', '198.51.100.9'],
    ['trusted proxy: its chain, then the proxy', '198.51.100.9, 203.0.113.7', trusted, '10.0.0.2', '198.51.100.9, 203.0.113.7, 10.0.0.2'],
    ['trusted proxy, chain as repeated lines', ['198.51.100.9', '203.0.113.7'], trusted, '10.0.0.2', '198.51.100.9, 203.0.113.7, 10.0.0.2'],
    ['trusted proxy on a dual-stack socket: no "::ffff:"', '198.51.100.9', trusted, '::ffff:10.0.0.2', '198.51.100.9, 10.0.0.2'],
    ['trusted IPv6 proxy', '198.51.100.9', trusted, '2001:db8::2', '198.51.100.9, 2001:db8::2'],
    ['trusted proxy that sent no chain: the client', undefined, trusted, '10.0.0.2', '198.51.100.9'],
    ['trusted proxy that sent an empty chain: the client', '', trusted, '10.0.0.2', '198.51.100.9'],
  ];
  it.each(xff)('X-Forwarded-For: %s', (_what, inbound, client, peer, expected) => {
    const out = plain(inbound === undefined ? {} : { 'x-forwarded-for': inbound }, { client, peer });
    expect(out['x-forwarded-for']).toBe(expected);
  });

  it('X-Forwarded-Proto is the resolved scheme, whatever the client wrote', () => {
    expect(plain({ 'x-forwarded-proto': 'https' }, { client: untrusted })['x-forwarded-proto']).toBe('http');
    expect(plain({ 'x-forwarded-proto': 'http' }, { client: trusted })['x-forwarded-proto']).toBe('https');
  });

  it('X-Forwarded-Host is the served authority, and absent when there is none', () => {
    expect(plain({ 'x-forwarded-host': 'evil.example' }, { servedAuthority: 'app.example:8443' })['x-forwarded-host']).toBe(
      'app.example:8443',
    );
    expect(plain({ 'x-forwarded-host': 'evil.example' }, { servedAuthority: '' })).not.toHaveProperty('x-forwarded-host');
  });

  it("X-Request-Id is Gatehouse's", () => {
    expect(plain({ 'x-request-id': 'client-chosen' })['x-request-id']).toBe('req-plain');
  });

  const hosts: readonly [preserveHost: boolean, servedAuthority: string, host: string][] = [
    [false, 'app.example', 'backend.internal:8080'],
    [true, 'app.example', 'app.example'],
    [true, '', 'backend.internal:8080'],
  ];
  it.each(hosts)('Host with preserve_host %s and served authority %j: %s (never the raw header)', (preserveHost, servedAuthority, host) => {
    expect(plain({ host: 'evil.example' }, { servedAuthority }, context({ preserveHost })).host).toBe(host);
  });
});
