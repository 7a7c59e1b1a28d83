// Who is the client: createClientResolver against real requests on loopback. Every request comes
// from a real socket, from a chosen local address (all of 127.0.0.0/8 is loopback on Linux, so the
// peer can be "trusted" or not by address alone), over IPv4, IPv6 (::1), IPv4-mapped IPv6 (a
// dual-stack listener) and TLS. The requests are written byte for byte, so repeated header lines
// reach Node's parser exactly as a proxy would send them.
//
// The property that matters: behind trusted proxies the client is the right-most X-Forwarded-For
// entry that is not a trusted proxy. Everything left of it was written by the client and proves
// nothing (audit records would carry a spoofed address).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientResolver, type ClientInfo } from '../../src/http/forwarded.ts';
import { selfSignedCert } from '../support/audit-receivers.ts';

type Listener = 'v4' | 'v6' | 'dual' | 'tls';

interface Sent {
  /** Which loopback listener to connect to. */
  readonly via: Listener;
  /** Local address the connection comes from (the peer Gatehouse sees). */
  readonly from?: string;
  /** Header lines after the request line, without the final empty line. */
  readonly lines: readonly string[];
  /** HTTP version of the request line; 1.0 allows leaving out Host. */
  readonly version?: '1.0' | '1.1';
}

const servers = new Map<Listener, { server: Server; port: number }>();
let onRequest: ((req: IncomingMessage) => void) | undefined;
let certDir: string | undefined;

function handler(req: IncomingMessage, res: ServerResponse): void {
  const take = onRequest;
  onRequest = undefined;
  take?.(req);
  res.writeHead(204, { connection: 'close' }).end();
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  const cert = selfSignedCert();
  certDir = cert.dir;
  servers.set('v4', { server: createHttpServer(handler), port: 0 });
  servers.set('v6', { server: createHttpServer(handler), port: 0 });
  // Listening on "::" without ipv6Only: IPv4 clients appear as "::ffff:127.x.y.z".
  servers.set('dual', { server: createHttpServer(handler), port: 0 });
  servers.set('tls', { server: createHttpsServer({ key: cert.key, cert: cert.cert }, handler), port: 0 });
  const hosts: Record<Listener, string> = { v4: '127.0.0.1', v6: '::1', dual: '::', tls: '127.0.0.1' };
  for (const [name, entry] of servers) servers.set(name, { server: entry.server, port: await listen(entry.server, hosts[name]) });
});

afterAll(async () => {
  for (const { server } of servers.values()) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

/**
 * Send one request and resolve it, while its socket is alive, with one resolver per trusted list.
 * Answers in the order of `trusted`.
 */
async function resolveWith(sent: Sent, ...trusted: (readonly string[])[]): Promise<ClientInfo[]> {
  const { port } = servers.get(sent.via)!;
  const resolvers = trusted.map((t) => createClientResolver(t));
  const seen = new Promise<ClientInfo[]>((resolve) => {
    onRequest = (req) => resolve(resolvers.map((r) => r(req)));
  });
  const connectHost = sent.via === 'v6' ? '::1' : '127.0.0.1';
  const localAddress = sent.from ?? (sent.via === 'v6' ? '::1' : '127.0.0.1');
  const tcp = netConnect({ host: connectHost, port, localAddress });
  // The test certificate is self-signed; what is tested is the server's view of the socket.
  const socket: Socket = sent.via === 'tls' ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('data', () => {});
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
  const head = [`GET / HTTP/${sent.version ?? '1.1'}`, ...sent.lines, 'Connection: close', '', ''].join('\r\n');
  socket.write(head, 'latin1');
  const [answers] = await Promise.all([seen, closed]);
  return answers;
}

/** One trusted list → one answer. */
async function resolveOne(sent: Sent, trusted: readonly string[]): Promise<ClientInfo> {
  return (await resolveWith(sent, trusted))[0]!;
}

describe('createClientResolver: an untrusted peer is the client, whatever it claims', () => {
  const spoofing = ['Host: app.example', 'X-Forwarded-For: 203.0.113.7', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: evil.example'];

  it('no trusted proxies configured: the socket address, the own scheme and Host', async () => {
    expect(await resolveOne({ via: 'v4', from: '127.0.0.5', lines: spoofing }, [])).toEqual({
      ip: '127.0.0.5',
      trusted: false,
      proto: 'http',
      host: 'app.example',
    });
  });

  it('a peer outside trusted_proxies is not believed', async () => {
    expect(await resolveOne({ via: 'v4', from: '127.0.0.5', lines: spoofing }, ['127.0.1.0/24', '127.0.0.4', '::1'])).toEqual({
      ip: '127.0.0.5',
      trusted: false,
      proto: 'http',
      host: 'app.example',
    });
  });

  it('over TLS the own scheme is https, and a forwarded "http" from an untrusted peer changes nothing', async () => {
    const info = await resolveOne({ via: 'tls', from: '127.0.0.5', lines: ['Host: app.example', 'X-Forwarded-Proto: http'] }, [
      '127.0.1.0/24',
    ]);
    expect(info).toEqual({ ip: '127.0.0.5', trusted: false, proto: 'https', host: 'app.example' });
  });

  it('an untrusted IPv6 peer is reported as is', async () => {
    expect(await resolveOne({ via: 'v6', lines: spoofing }, ['127.0.0.0/8', 'fd00::/8'])).toEqual({
      ip: '::1',
      trusted: false,
      proto: 'http',
      host: 'app.example',
    });
  });

  it('an IPv4 peer on a dual-stack socket is reported without the "::ffff:" prefix', async () => {
    expect(await resolveOne({ via: 'dual', from: '127.0.0.6', lines: spoofing }, [])).toEqual({
      ip: '127.0.0.6',
      trusted: false,
      proto: 'http',
      host: 'app.example',
    });
  });

  it('no Host at all (HTTP/1.0) gives an empty host, trusted or not', async () => {
    const [untrusted, trusted] = await resolveWith({ via: 'v4', from: '127.0.0.5', version: '1.0', lines: [] }, [], ['127.0.0.5']);
    expect(untrusted).toEqual({ ip: '127.0.0.5', trusted: false, proto: 'http', host: '' });
    expect(trusted).toEqual({ ip: '127.0.0.5', trusted: true, proto: 'http', host: '' });
  });
});

describe('createClientResolver: a request whose connection is already gone', () => {
  it('has no peer address: resolved as an untrusted, empty one (X-Forwarded-* ignored), without throwing', async () => {
    const { port } = servers.get('v4')!;
    const resolve = createClientResolver(['127.0.0.0/8']);
    const seen = new Promise<ClientInfo>((done) => {
      onRequest = (req) => {
        req.socket.destroy();
        done(resolve(req));
      };
    });
    const socket = netConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n');
    expect(await seen).toEqual({ ip: '', trusted: false, proto: 'http', host: 'app.example' });
    socket.destroy();
  });
});

describe('createClientResolver: behind trusted proxies, the right-most untrusted X-Forwarded-For entry', () => {
  it('takes the address the proxy appended, not the one the client wrote', async () => {
    // The client sent "X-Forwarded-For: 198.51.100.66"; the proxy appended the address it saw.
    const info = await resolveOne(
      { via: 'v4', from: '127.0.0.2', lines: ['Host: app.example', 'X-Forwarded-For: 198.51.100.66, 203.0.113.7'] },
      ['127.0.0.2'],
    );
    expect(info).toEqual({ ip: '203.0.113.7', trusted: true, proto: 'http', host: 'app.example' });
  });

  it('skips every trusted hop from the right (several proxies in a chain)', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-For: 198.51.100.66, 203.0.113.7, 10.1.2.3, 127.0.0.3'];
    const [both, onlyPeer, onlyInner] = await resolveWith(
      { via: 'v4', from: '127.0.0.2', lines },
      ['127.0.0.0/24', '10.0.0.0/8'],
      ['127.0.0.2'],
      ['127.0.0.2', '127.0.0.3'],
    );
    expect(both!.ip).toBe('203.0.113.7');
    // Only the peer is trusted: the entry it appended is the client, even if it is a private address.
    expect(onlyPeer!.ip).toBe('127.0.0.3');
    expect(onlyInner!.ip).toBe('10.1.2.3');
  });

  it('reads repeated X-Forwarded-For lines as one chain, in order', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-For: 198.51.100.66', 'X-Forwarded-For: 203.0.113.7, 127.0.0.3'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines }, ['127.0.0.0/24'])).ip).toBe('203.0.113.7');
    const reversed = ['Host: app.example', 'X-Forwarded-For: 203.0.113.7', 'X-Forwarded-For: 198.51.100.66'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: reversed }, ['127.0.0.0/24'])).ip).toBe('198.51.100.66');
  });

  it('trims spaces and ignores empty entries (",," or a trailing comma)', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-For:   198.51.100.66 ,, 203.0.113.7 ,  127.0.0.3  , '];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines }, ['127.0.0.0/24'])).ip).toBe('203.0.113.7');
  });

  it('a junk entry the proxy did not recognise is not trusted, and nothing left of it is believed', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-For: 203.0.113.7, unknown, 127.0.0.3'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines }, ['127.0.0.0/24'])).ip).toBe('unknown');
    const withPort = ['Host: app.example', 'X-Forwarded-For: 198.51.100.66, 203.0.113.7:4711'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: withPort }, ['127.0.0.0/24'])).ip).toBe('203.0.113.7:4711');
    // Only a real "::ffff:" prefix is taken off: junk that merely ends in an IPv4 address stays junk.
    const forwardedSyntax = ['Host: app.example', 'X-Forwarded-For: 198.51.100.66, client=203.0.113.9'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: forwardedSyntax }, ['127.0.0.0/24'])).ip).toBe('client=203.0.113.9');
  });

  it('IPv6 and IPv4-mapped entries: mapped ones are plain IPv4, and match IPv4 trusted ranges', async () => {
    const trusted = ['127.0.0.0/24', '10.0.0.0/8', 'fd00::/8'];
    const v6 = ['Host: app.example', 'X-Forwarded-For: 198.51.100.66, 2001:db8::7, fd00::1'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: v6 }, trusted)).ip).toBe('2001:db8::7');
    const mapped = ['Host: app.example', 'X-Forwarded-For: 198.51.100.66, ::ffff:203.0.113.7, ::ffff:10.9.9.9'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: mapped }, trusted)).ip).toBe('203.0.113.7');
    // "::ffff:" followed by something that is not an IPv4 address stays as written.
    const hexMapped = ['Host: app.example', 'X-Forwarded-For: ::ffff:cb00:7107'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: hexMapped }, trusted)).ip).toBe('::ffff:cb00:7107');
  });

  it('every hop trusted: the left-most (farthest) one; no usable entry: the peer', async () => {
    const allTrusted = ['Host: app.example', 'X-Forwarded-For: 10.1.1.1, 10.2.2.2, 127.0.0.3'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: allTrusted }, ['127.0.0.0/24', '10.0.0.0/8'])).ip).toBe('10.1.1.1');
    const empty = ['Host: app.example', 'X-Forwarded-For: , ,'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: empty }, ['127.0.0.0/24'])).ip).toBe('127.0.0.2');
    const none = ['Host: app.example'];
    expect(await resolveOne({ via: 'v4', from: '127.0.0.2', lines: none }, ['127.0.0.0/24'])).toEqual({
      ip: '127.0.0.2',
      trusted: true,
      proto: 'http',
      host: 'app.example',
    });
  });

  it('a trusted IPv6 peer (exact address or CIDR) is believed', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-For: 198.51.100.66, 203.0.113.7'];
    const answers = await resolveWith({ via: 'v6', lines }, ['::1'], ['::1/128'], ['::/127'], ['::2'], ['127.0.0.1']);
    expect(answers.map((a) => [a.trusted, a.ip])).toEqual([
      [true, '203.0.113.7'],
      [true, '203.0.113.7'],
      [true, '203.0.113.7'],
      [false, '::1'],
      [false, '::1'],
    ]);
  });

  it('a mapped IPv4 peer on a dual-stack socket matches an IPv4 entry, exact or CIDR', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-For: 203.0.113.7'];
    const answers = await resolveWith(
      { via: 'dual', from: '127.0.0.2', lines },
      ['127.0.0.2'],
      ['127.0.0.0/30'],
      ['127.0.0.4/30'],
      ['127.0.0.3'],
    );
    expect(answers.map((a) => [a.trusted, a.ip])).toEqual([
      [true, '203.0.113.7'],
      [true, '203.0.113.7'],
      [false, '127.0.0.2'],
      [false, '127.0.0.2'],
    ]);
  });

  it('a CIDR covers exactly its prefix length', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-For: 203.0.113.7'];
    // 127.0.0.130 is in 127.0.0.128/25 but not in 127.0.0.0/25.
    const answers = await resolveWith(
      { via: 'v4', from: '127.0.0.130', lines },
      ['127.0.0.128/25'],
      ['127.0.0.0/25'],
      ['127.0.0.130/32'],
      ['127.0.0.131/32'],
    );
    expect(answers.map((a) => a.trusted)).toEqual([true, false, true, false]);
  });
});

describe('createClientResolver: X-Forwarded-Proto and X-Forwarded-Host from a trusted proxy', () => {
  const trusted = ['127.0.0.2'];

  it('takes the forwarded scheme and host (first value, lower-cased)', async () => {
    const lines = ['Host: internal:4180', 'X-Forwarded-Proto: HTTPS', 'X-Forwarded-Host: App.Example:8443, other.example'];
    expect(await resolveOne({ via: 'v4', from: '127.0.0.2', lines }, trusted)).toEqual({
      ip: '127.0.0.2',
      trusted: true,
      proto: 'https',
      host: 'app.example:8443',
    });
  });

  it('takes the first of repeated lines and of a comma list', async () => {
    const lines = [
      'Host: internal',
      'X-Forwarded-Proto: https',
      'X-Forwarded-Proto: http',
      'X-Forwarded-Host: a.example',
      'X-Forwarded-Host: b.example',
    ];
    const info = await resolveOne({ via: 'v4', from: '127.0.0.2', lines }, trusted);
    expect([info.proto, info.host]).toEqual(['https', 'a.example']);
    const list = ['Host: internal', 'X-Forwarded-Proto:  https , http'];
    expect((await resolveOne({ via: 'v4', from: '127.0.0.2', lines: list }, trusted)).proto).toBe('https');
  });

  it('a forwarded "http" over TLS is believed: the proxy terminated plain HTTP', async () => {
    const lines = ['Host: app.example', 'X-Forwarded-Proto: http'];
    expect((await resolveOne({ via: 'tls', from: '127.0.0.2', lines }, trusted)).proto).toBe('http');
  });

  it("an unknown scheme falls back to the connection's own", async () => {
    const overTls = await resolveOne({ via: 'tls', from: '127.0.0.2', lines: ['Host: app.example', 'X-Forwarded-Proto: ftp'] }, trusted);
    expect(overTls.proto).toBe('https');
    const plain = await resolveOne({ via: 'v4', from: '127.0.0.2', lines: ['Host: app.example', 'X-Forwarded-Proto: wss'] }, trusted);
    expect(plain.proto).toBe('http');
    const empty = await resolveOne({ via: 'tls', from: '127.0.0.2', lines: ['Host: app.example', 'X-Forwarded-Proto: '] }, trusted);
    expect(empty.proto).toBe('https');
  });

  it("without X-Forwarded-Host (or with an empty one) the request's own Host, as sent", async () => {
    const none = await resolveOne({ via: 'v4', from: '127.0.0.2', lines: ['Host: App.Example'] }, trusted);
    expect(none.host).toBe('App.Example');
    const blank = await resolveOne(
      { via: 'v4', from: '127.0.0.2', lines: ['Host: App.Example', 'X-Forwarded-Host: , b.example'] },
      trusted,
    );
    expect(blank.host).toBe('App.Example');
  });
});
