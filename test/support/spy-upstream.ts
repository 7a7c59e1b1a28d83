// A spy upstream for security tests: a plain TCP server on 127.0.0.1 that keeps the exact bytes
// each connection delivered and parses them with a deliberately strict HTTP/1.1 parser of its own
// (not Node's), so a test can say what the upstream really received: how many requests, each
// message's exact bytes, head and body — and every irregularity a lenient upstream might read
// differently (a second framing header, obs-fold, a bare LF, a chunk extension, ...).
//
//   const spy = await startSpyUpstream();
//   // ... route Gatehouse to spy.url, send something ...
//   await spy.waitForRequests(1);
//   spy.requests()[0].header('x-forwarded-user'); spy.requests()[0].raw; spy.problems();
//
// Each complete request gets a 200 JSON answer ({ spy, connection, index, method, target,
// bodyLength }) unless `respond` says otherwise. On an irregular message the spy records a
// problem, answers 400 and closes, like a strict server. With `upgrades: true` it answers any
// request carrying Upgrade with 101 and then keeps the tunnel's bytes (a backend that speaks h2c or
// WebSocket, as in h2c smuggling). Closed when the test finishes unless `autoClose: false`.

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface SpyRequest {
  /** Which upstream connection (0-based, in order of arrival) and which request on it. */
  readonly connection: number;
  readonly index: number;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Header fields as received, names as sent, values trimmed of optional whitespace. */
  readonly headers: readonly (readonly [string, string])[];
  /** The body, de-chunked when chunked. */
  readonly body: Buffer;
  /** Exact bytes of this message, request line to end of body. */
  readonly raw: Buffer;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
}

export interface SpyConnection {
  readonly id: number;
  /** Every byte this connection delivered. */
  readonly raw: Buffer;
  readonly requests: readonly SpyRequest[];
  /** Irregularities found (the spy answered 400 and closed at the first). */
  readonly problems: readonly string[];
  /** Bytes received after a 101 (only with `upgrades: true`). */
  readonly tunnel: Buffer;
  readonly closed: boolean;
}

export interface SpyResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

export interface SpyOptions {
  /** Answer a request yourself (return undefined for the default JSON answer). */
  readonly respond?: (req: SpyRequest) => SpyResponse | undefined;
  /** Answer requests that carry Upgrade with 101 and keep the tunnel's bytes. */
  readonly upgrades?: boolean;
  /** Register close() with the running test (default true). */
  readonly autoClose?: boolean;
}

export interface SpyUpstream {
  readonly url: string;
  readonly port: number;
  readonly connections: readonly SpyConnection[];
  /** Every complete request, in order of completion. */
  requests(): SpyRequest[];
  /** Every problem on every connection, prefixed with the connection id. */
  problems(): string[];
  /** Resolve once `n` requests arrived (or after `timeoutMs`, with what there is). */
  waitForRequests(n: number, timeoutMs?: number): Promise<SpyRequest[]>;
  /** Forget what was recorded (connections stay open). */
  reset(): void;
  close(): Promise<void>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\s\0]+) (HTTP\/1\.[01])$/;
// Field value: visible ASCII, obs-text, SP and HTAB; no CR, LF, NUL or other controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

class Conn implements SpyConnection {
  readonly requests: SpyRequest[] = [];
  readonly problems: string[] = [];
  closed = false;
  private chunks: Buffer[] = [];
  private buffered: Buffer = Buffer.alloc(0);
  private tunnelChunks: Buffer[] = [];
  tunnelling = false;
  readonly id: number;
  private readonly acceptUpgrades: boolean;
  constructor(id: number, acceptUpgrades: boolean) {
    this.id = id;
    this.acceptUpgrades = acceptUpgrades;
  }
  get raw(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get tunnel(): Buffer {
    return Buffer.concat(this.tunnelChunks);
  }
  /** New bytes; returns the complete requests now parseable, or a problem. */
  feed(data: Buffer): { requests: SpyRequest[]; problem?: string } {
    this.chunks.push(data);
    if (this.tunnelling) {
      this.tunnelChunks.push(data);
      return { requests: [] };
    }
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, data]) : data;
    const out: SpyRequest[] = [];
    for (;;) {
      const r = parseRequest(this.buffered, this.id, this.requests.length);
      if (r === undefined) return { requests: out };
      if (typeof r === 'string') {
        this.problems.push(r);
        return { requests: out, problem: r };
      }
      this.requests.push(r.request);
      out.push(r.request);
      this.buffered = this.buffered.subarray(r.end);
      if (this.acceptUpgrades && isUpgrade(r.request)) {
        // Whatever follows an accepted upgrade request belongs to the tunnel.
        this.tunnelling = true;
        this.tunnelChunks.push(this.buffered);
        this.buffered = Buffer.alloc(0);
        return { requests: out };
      }
      if (this.buffered.length === 0) return { requests: out };
    }
  }
}

const isUpgrade = (r: SpyRequest) =>
  r.header('upgrade') !== undefined && /(^|,)\s*upgrade\s*(,|$)/i.test(r.headerAll('connection').join(','));

function makeRequest(
  connection: number,
  index: number,
  method: string,
  target: string,
  version: string,
  headers: [string, string][],
  body: Buffer,
  raw: Buffer,
): SpyRequest {
  const all = (n: string) => headers.filter(([k]) => k.toLowerCase() === n.toLowerCase()).map(([, v]) => v);
  return { connection, index, method, target, version, headers, body, raw, header: (n) => all(n)[0], headerAll: all };
}

/** One strict request from the front of `buf`; undefined = incomplete; string = problem. */
function parseRequest(buf: Buffer, connection: number, index: number): { request: SpyRequest; end: number } | string | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, headEnd === -1 ? Math.min(buf.length, 64 * 1024) : headEnd).toString('latin1');
  // A bare LF, or a CR not followed by LF (a CR at the very end may still get its LF).
  if (/(?<!\r)\n|\r(?!\n|$)/.test(head)) return 'bare CR or LF in the request head';
  if (headEnd === -1) return buf.length > 64 * 1024 ? 'request head over 64 KiB' : undefined;
  const [line = '', ...fieldLines] = head.split('\r\n');
  const rl = REQUEST_LINE.exec(line);
  if (!rl) return `bad request line ${JSON.stringify(line)}`;
  const headers: [string, string][] = [];
  for (const f of fieldLines) {
    if (f.startsWith(' ') || f.startsWith('\t')) return `obs-fold continuation line ${JSON.stringify(f)}`;
    const c = f.indexOf(':');
    if (c === -1) return `field line without a colon ${JSON.stringify(f)}`;
    const name = f.slice(0, c);
    if (!TOKEN.test(name)) return `bad header name ${JSON.stringify(name)}`;
    const value = f.slice(c + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return `bad characters in the value of ${name}`;
    headers.push([name, value]);
  }
  const all = (n: string) => headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  const te = all('transfer-encoding');
  const cl = all('content-length');
  const bodyStart = headEnd + 4;
  const done = (body: Buffer, end: number) => ({
    request: makeRequest(connection, index, rl[1]!, rl[2]!, rl[3]!, headers, body, buf.subarray(0, end)),
    end,
  });
  if (te.length > 0) {
    if (cl.length > 0) return 'both Transfer-Encoding and Content-Length';
    if (te.length > 1 || te[0] !== 'chunked') return `Transfer-Encoding other than one plain "chunked": ${JSON.stringify(te)}`;
    const parts: Buffer[] = [];
    let i = bodyStart;
    for (let guard = 0; guard < 100_000; guard++) {
      const eol = buf.indexOf('\r\n', i);
      if (eol === -1) return buf.length - i > 64 ? 'chunk-size line too long' : undefined;
      const sizeLine = buf.subarray(i, eol).toString('latin1');
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeLine)) return `irregular chunk-size line ${JSON.stringify(sizeLine)}`;
      const size = parseInt(sizeLine, 16);
      const dataStart = eol + 2;
      if (size === 0) {
        // No trailers expected from a proxy: the last chunk is followed by CRLF.
        if (buf.length < dataStart + 2) return undefined;
        if (buf.subarray(dataStart, dataStart + 2).toString('latin1') !== '\r\n') return 'trailer fields after the last chunk';
        return done(Buffer.concat(parts), dataStart + 2);
      }
      if (buf.length < dataStart + size + 2) return undefined;
      if (buf.subarray(dataStart + size, dataStart + size + 2).toString('latin1') !== '\r\n') return 'chunk data not followed by CRLF';
      parts.push(buf.subarray(dataStart, dataStart + size));
      i = dataStart + size + 2;
    }
    return 'too many chunks';
  }
  if (cl.length > 1) return `several Content-Length fields: ${JSON.stringify(cl)}`;
  if (cl.length === 1) {
    if (!/^\d{1,15}$/.test(cl[0]!)) return `irregular Content-Length ${JSON.stringify(cl[0])}`;
    const len = Number(cl[0]);
    if (buf.length < bodyStart + len) return undefined;
    return done(buf.subarray(bodyStart, bodyStart + len), bodyStart + len);
  }
  return done(Buffer.alloc(0), bodyStart);
}

function answer(socket: Socket, res: SpyResponse, close: boolean): void {
  const body = typeof res.body === 'string' ? Buffer.from(res.body) : (res.body ?? Buffer.alloc(0));
  const lines = [`HTTP/1.1 ${res.status} ${res.status === 200 ? 'OK' : 'Spy'}`];
  for (const [k, v] of Object.entries(res.headers ?? {})) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${body.length}`);
  if (close) lines.push('connection: close');
  socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
  if (close) socket.end();
}

export async function startSpyUpstream(options: SpyOptions = {}): Promise<SpyUpstream> {
  const connections: Conn[] = [];
  const sockets = new Set<Socket>();
  let completed: SpyRequest[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((socket) => {
    const conn = new Conn(connections.length, options.upgrades === true);
    connections.push(conn);
    sockets.add(socket);
    socket.on('close', () => {
      conn.closed = true;
      sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    socket.on('data', (data: Buffer) => {
      const { requests, problem } = conn.feed(data);
      for (const r of requests) {
        completed.push(r);
        if (options.upgrades && isUpgrade(r)) {
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${r.header('upgrade')}\r\n\r\n`);
          continue;
        }
        const custom = options.respond?.(r);
        const close =
          r.version === 'HTTP/1.0'
            ? !/keep-alive/i.test(r.header('connection') ?? '')
            : /(^|,)\s*close\s*(,|$)/i.test(r.headerAll('connection').join(','));
        answer(
          socket,
          custom ?? {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              spy: true,
              connection: r.connection,
              index: r.index,
              method: r.method,
              target: r.target,
              bodyLength: r.body.length,
            }),
          },
          close,
        );
      }
      if (problem) answer(socket, { status: 400, body: problem }, true);
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  if (options.autoClose !== false) onTestFinished(close);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections,
    requests: () => [...completed],
    problems: () => connections.flatMap((c) => c.problems.map((p) => `connection ${c.id}: ${p}`)),
    waitForRequests(n, timeoutMs = 15_000) {
      if (completed.length >= n) return Promise.resolve([...completed]);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...completed]);
        };
        const check = () => {
          if (completed.length >= n) done();
        };
        const timer = setTimeout(done, timeoutMs);
        waiters.add(check);
      });
    },
    reset() {
      completed = [];
      for (const c of connections) c.problems.length = 0;
    },
    close,
  };
}
