// server/finish.ts: what the audit record says about an exchange's bytes, path, query and status,
// measured on real loopback sockets, and the once-only guard every close of an exchange goes through.
import { createServer, IncomingMessage, type Server } from 'node:http';
import { connect, Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Exchange } from '../../src/http/exchange.ts';
import { bytesIn, bytesOut, closeOnce, requestFacts, requestHeadBytes, traceId } from '../../src/server/finish.ts';

const CLIENT = { ip: '127.0.0.1', trusted: false, proto: 'http', host: 'h' } as const;

interface Measured {
  readonly head: number;
  readonly in: number;
  readonly out: number;
}

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/**
 * A server that answers every request with `reply` and measures its exchange once the response
 * closes; `onRequest` runs when the handler sees the request head.
 */
async function measuring(reply: string, onRequest: () => void = () => {}): Promise<{ port: number; measured: Promise<Measured>[] }> {
  const waiting: ((m: Measured) => void)[] = [];
  const measured = Array.from({ length: 2 }, () => new Promise<Measured>((resolve) => waiting.push(resolve)));
  server = createServer((req, res) => {
    const ex = new Exchange('id', 0, req, res, req.socket, CLIENT);
    onRequest();
    req.resume();
    req.on('end', () => res.end(reply));
    res.once('close', () => waiting.shift()?.({ head: requestHeadBytes(ex), in: bytesIn(ex), out: bytesOut(ex) }));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, measured };
}

/** A raw loopback client (it writes exactly what the test gives it) that counts the bytes coming back. */
function client(port: number): { socket: Socket; received: () => number; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1');
  let n = 0;
  socket.on('data', (d) => (n += d.length));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, received: () => n, closed };
}

describe('finish: bytes in and out, measured on the socket', () => {
  it('a Content-Length body: the head exactly as sent, plus the declared body; out is every byte the client got', async () => {
    const { port, measured } = await measuring('answer');
    const head =
      'POST /p?a=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-Long-Header: ' + 'v'.repeat(100) + '\r\nConnection: close\r\n\r\n';
    const c = client(port);
    c.socket.write(head + 'hello');
    const m = await measured[0]!;
    await c.closed;
    expect(m.head).toBe(Buffer.byteLength(head));
    expect(m.in).toBe(Buffer.byteLength(head) + 5);
    expect(m.out).toBe(c.received());
  });

  it('a chunked body sent after the head: what the socket read after the head', async () => {
    let sawHead!: () => void;
    const headSeen = new Promise<void>((resolve) => (sawHead = resolve));
    const { port, measured } = await measuring('ok', () => sawHead());
    const head = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const body = '5\r\nhello\r\n0\r\n\r\n';
    const c = client(port);
    c.socket.write(head);
    await headSeen;
    c.socket.write(body);
    const m = await measured[0]!;
    await c.closed;
    expect(m.in).toBe(Buffer.byteLength(head) + Buffer.byteLength(body));
    expect(m.out).toBe(c.received());
  });

  it('keep-alive: each exchange counts only its own share of the socket', async () => {
    const { port, measured } = await measuring('0123456789');
    const first = 'GET /one HTTP/1.1\r\nHost: h\r\n\r\n';
    const second = 'GET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
    const c = client(port);
    c.socket.write(first);
    const m1 = await measured[0]!;
    c.socket.write(second);
    const m2 = await measured[1]!;
    await c.closed;
    expect([m1.in, m2.in]).toEqual([Buffer.byteLength(first), Buffer.byteLength(second)]);
    expect(m1.out + m2.out).toBe(c.received());
    expect(m1.out).toBeGreaterThan(10);
  });
});

/** An exchange over a real (unconnected) socket for a request head that was never answered. */
function exchangeFor(method: string, url: string, headers: Record<string, string> = {}): Exchange {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.url = url;
  req.headers = headers;
  return new Exchange('rid', 0, req, undefined, req.socket, CLIENT);
}

describe('finish: requestFacts', () => {
  it('a request refused before normalising is recorded with its raw path (bounded) and its query keys only', () => {
    const ex = exchangeFor('GET', `/a%2Fb${'x'.repeat(3000)}?token=secret&b+c=1&token=again&=v&%ZZ=1`, { 'user-agent': 'u'.repeat(600) });
    const f = requestFacts(ex, 1, 2, 3, 4);
    expect(f.path.length).toBe(2048);
    expect(f.path.startsWith('/a%2Fb')).toBe(true);
    expect(f.queryKeys).toEqual(['token', 'b c', '', '%ZZ']);
    expect(JSON.stringify(f)).not.toContain('secret');
    expect(f.userAgent).toHaveLength(512);
    expect([f.status, f.decision, f.bytesIn, f.bytesOut, f.durationMs]).toEqual([499, 'error', 3, 4, 2]);
  });

  it('a normalised path and query win over the raw target; the status written is recorded', () => {
    const ex = exchangeFor('GET', '/raw?x=1');
    ex.path = '/normal';
    ex.query = '?y=2';
    ex.status = 302;
    ex.decision = 'unauthenticated';
    const f = requestFacts(ex, 1, 2, 3, 4);
    expect([f.path, f.queryKeys, f.status, f.decision]).toEqual(['/normal', ['y'], 302, 'unauthenticated']);
  });
});

describe('finish: traceId', () => {
  it('takes the trace id of a valid W3C traceparent, and nothing from an invalid one', () => {
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(traceId(`00-${id}-00f067aa0ba902b7-01`)).toBe(id);
    // A later version may append fields; version ff, an all-zero id, upper case, extra fields on 00 are invalid.
    expect(traceId(`01-${id}-00f067aa0ba902b7-01-extra`)).toBe(id);
    for (const bad of [
      `ff-${id}-00f067aa0ba902b7-01`,
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-${id.toUpperCase()}-00f067aa0ba902b7-01`,
      `00-${id}-00f067aa0ba902b7-01-x`,
      `00-${id}-00f067aa0ba902b7`,
      'x'.repeat(600),
    ]) {
      expect(traceId(bad), bad).toBeUndefined();
    }
    expect(traceId(undefined)).toBeUndefined();
    expect(traceId([`00-${id}-00f067aa0ba902b7-01`, 'x'])).toBeUndefined();
  });
});

describe('finish: closeOnce', () => {
  it('runs finish for the first close only (a WebSocket upgrade has several)', () => {
    const ex = exchangeFor('GET', '/');
    const seen: Exchange[] = [];
    closeOnce(ex, (e) => seen.push(e));
    closeOnce(ex, (e) => seen.push(e));
    expect(seen).toEqual([ex]);
    expect(ex.finished).toBe(true);
  });
});
