// A raw HTTP/1.x client for security tests. It writes exactly the bytes it is given (strings are
// sent as latin1, one byte per character: nothing added, nothing normalised, no Host, no framing),
// keeps every byte the server sends back, and parses the responses found in them.
//
//   // one shot: send, read until the server closes (or the timeout), parse
//   const r = await sendRaw(gh.url, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
//   r.statuses            // [200]
//   r.responses[0].header('content-type')
//
//   // a conversation on one connection: the second request only after the first answer
//   const c = await RawConnection.open(gh.url);
//   await c.write(attack);
//   await c.waitForResponses(1);
//   await c.write(probe);
//   await c.waitForClose();
//   c.responses()         // every complete response so far, 1xx interim ones included
//
// Waits are event-driven (bytes arrive, the socket closes) with a generous timeout; a timeout is
// reported in the result (`end: 'timeout'`), not thrown, so a test can assert on it.

import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** "HTTP/1.1" */
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  /** Header fields in the order received, names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  /** Body after de-chunking (chunked) or as framed by Content-Length / the close. */
  readonly body: Buffer;
  /** The response's exact bytes (status line to end of body). */
  readonly raw: Buffer;
  /** First value of a header, case-insensitive. */
  header(name: string): string | undefined;
  /** Every value of a header, case-insensitive. */
  headerAll(name: string): string[];
  /** The body as text (UTF-8). */
  text(): string;
}

export interface ParseOptions {
  /** Methods of the requests sent, in order, so responses to HEAD are read without a body. */
  readonly methods?: readonly string[];
  /** The server closed the connection: a close-delimited body is complete. */
  readonly ended?: boolean;
}

export interface Parsed {
  readonly responses: RawResponse[];
  /** Bytes after the last complete response (a partial response, or a 101 tunnel's data). */
  readonly rest: Buffer;
  /** A 101 Switching Protocols was parsed: what follows is not HTTP. */
  readonly switched: boolean;
  /** Bytes that cannot be the start of a response (garbage after a response): a parse error text. */
  readonly error: string | undefined;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

function makeResponse(
  version: string,
  status: number,
  reason: string,
  headers: [string, string][],
  body: Buffer,
  raw: Buffer,
): RawResponse {
  const all = (name: string) => headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  return { version, status, reason, headers, body, raw, header: (n) => all(n)[0], headerAll: all, text: () => body.toString('utf8') };
}

/** Decode a chunked body starting at `from`; undefined when incomplete. */
function dechunk(buf: Buffer, from: number): { body: Buffer; end: number } | undefined | string {
  const parts: Buffer[] = [];
  let i = from;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const eol = buf.indexOf('\r\n', i);
    if (eol === -1) return undefined;
    const sizeText = buf.subarray(i, eol).toString('latin1').split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) return `bad chunk size ${JSON.stringify(sizeText)}`;
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      // Trailers, then an empty line.
      let t = eol + 2;
      for (;;) {
        const e = buf.indexOf('\r\n', t);
        if (e === -1) return undefined;
        if (e === t) return { body: Buffer.concat(parts), end: e + 2 };
        t = e + 2;
      }
    }
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return 'too many chunks';
}

/** Parse the HTTP/1.x responses in `buf` (what a server wrote on one connection). */
export function parseResponses(buf: Buffer, options: ParseOptions = {}): Parsed {
  const responses: RawResponse[] = [];
  const methods = options.methods ?? [];
  let at = 0;
  let finals = 0;
  for (let guard = 0; guard < 10_000 && at < buf.length; guard++) {
    const headEnd = buf.indexOf(CRLFCRLF, at);
    const avail = Math.min(7, buf.length - at);
    if (buf.subarray(at, at + avail).toString('latin1') !== 'HTTP/1.'.slice(0, avail)) {
      return {
        responses,
        rest: buf.subarray(at),
        switched: false,
        error: `not a status line at byte ${at}: ${JSON.stringify(buf.subarray(at, at + 40).toString('latin1'))}`,
      };
    }
    if (headEnd === -1) break;
    const lines = buf.subarray(at, headEnd).toString('latin1').split('\r\n');
    const m = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (!m) return { responses, rest: buf.subarray(at), switched: false, error: `bad status line ${JSON.stringify(lines[0])}` };
    const headers: [string, string][] = [];
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      headers.push(c === -1 ? [line, ''] : [line.slice(0, c), line.slice(c + 1).trim()]);
    }
    const status = Number(m[2]);
    const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    const bodyStart = headEnd + 4;
    const noBody =
      (status >= 100 && status < 200) || status === 204 || status === 304 || (status >= 200 && methods[finals]?.toUpperCase() === 'HEAD');
    let body: Buffer;
    let end: number;
    if (noBody) {
      body = Buffer.alloc(0);
      end = bodyStart;
    } else if (get('transfer-encoding')?.toLowerCase().includes('chunked')) {
      const d = dechunk(buf, bodyStart);
      if (d === undefined) break;
      if (typeof d === 'string') return { responses, rest: buf.subarray(at), switched: false, error: d };
      body = d.body;
      end = d.end;
    } else if (get('content-length') !== undefined) {
      const len = Number(get('content-length'));
      if (buf.length < bodyStart + len) break;
      body = buf.subarray(bodyStart, bodyStart + len);
      end = bodyStart + len;
    } else {
      if (!options.ended) break; // close-delimited: complete only once the server closed
      body = buf.subarray(bodyStart);
      end = buf.length;
    }
    responses.push(makeResponse(m[1]!, status, m[3] ?? '', headers, body, buf.subarray(at, end)));
    at = end;
    if (status === 101) return { responses, rest: buf.subarray(at), switched: true, error: undefined };
    if (status >= 200) finals++;
  }
  return { responses, rest: buf.subarray(at), switched: false, error: undefined };
}

export interface RawResult {
  /** Every byte received. */
  readonly received: Buffer;
  readonly responses: RawResponse[];
  /** Statuses of the complete responses, in order (1xx included). */
  readonly statuses: number[];
  /** Why reading stopped: the server closed, the timeout passed, or a socket error. */
  readonly end: 'closed' | 'timeout' | 'error';
  readonly error: string | undefined;
  /** Parser complaint about the received bytes (garbage after a response), if any. */
  readonly parseError: string | undefined;
  /** Trailing bytes that are not a complete response. */
  readonly rest: Buffer;
}

function addressOf(target: string | { host: string; port: number }): { host: string; port: number } {
  if (typeof target !== 'string') return target;
  const u = new URL(target);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}

/**
 * The escapes case tables use for raw bytes: `\r \n \t \0 \v \f \xHH \\` → those bytes, as latin1
 * characters (write the result with RawConnection.write / sendRaw to send them exactly).
 */
export function unescapeBytes(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[rnt0vf\\])/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ r: '\r', n: '\n', t: '\t', '0': '\0', v: '\v', f: '\f', '\\': '\\' } as Record<string, string>)[e]!;
  });
}

const toBytes = (b: string | Buffer) => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b);

/** One TCP connection for a scripted conversation. Destroyed after `timeoutMs` of total life. */
export class RawConnection {
  private readonly socket: Socket;
  private chunks: Buffer[] = [];
  private size = 0;
  private waiters = new Set<() => void>();
  private ended: RawResult['end'] | undefined;
  private err: string | undefined;
  readonly methods: string[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    const wake = () => {
      for (const w of [...this.waiters]) w();
    };
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.size += c.length;
      wake();
    });
    socket.on('error', (e) => {
      this.err = e.message;
      this.ended ??= 'error';
      wake();
    });
    socket.on('close', () => {
      this.ended ??= 'closed';
      wake();
    });
  }

  /** Connect to `target` (a URL like "http://127.0.0.1:4180" or host and port). */
  static open(target: string | { host: string; port: number }, timeoutMs = 20_000): Promise<RawConnection> {
    const { host, port } = addressOf(target);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const life = setTimeout(() => {
        conn.ended ??= 'timeout';
        socket.destroy();
      }, timeoutMs);
      life.unref();
      socket.once('close', () => clearTimeout(life));
      const conn = new RawConnection(socket);
      socket.once('connect', () => resolve(conn));
      socket.once('error', (e) => reject(e));
    });
  }

  /** Every byte received so far. */
  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  get closed(): boolean {
    return this.ended !== undefined;
  }

  /**
   * Write bytes exactly (a string is sent as latin1). `methods` names the methods of the requests
   * these bytes start, in order, so answers to HEAD are read without a body; by default the first
   * token when the bytes begin with a request line, else none (a body, the rest of a request).
   * Pass `methods` when one write holds several pipelined requests and one of them is HEAD.
   */
  write(bytes: string | Buffer, methods?: readonly string[]): Promise<void> {
    const b = toBytes(bytes);
    const first = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) \S+ HTTP\//.exec(b.subarray(0, 2048).toString('latin1'));
    this.methods.push(...(methods ?? (first ? [first[1]!] : [])));
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(b, () => resolve()));
  }

  /** Parse what has arrived so far. */
  parsed(): Parsed {
    return parseResponses(this.received, { methods: this.methods, ended: this.ended !== undefined });
  }

  responses(): RawResponse[] {
    return this.parsed().responses;
  }

  /** Resolve when `until()` holds or the connection ends, whichever first (or after `timeoutMs`). */
  private wait(until: () => boolean, timeoutMs: number): Promise<void> {
    if (until() || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (until() || this.ended) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Wait for `n` final (status ≥ 200) responses, or the end of the connection. */
  async waitForResponses(n: number, timeoutMs = 15_000): Promise<RawResponse[]> {
    const finals = () => this.responses().filter((r) => r.status >= 200);
    await this.wait(() => finals().length >= n || this.parsed().switched, timeoutMs);
    return this.responses();
  }

  /** Wait until `n` responses of any kind (1xx included) have arrived, or the connection ends. */
  async waitForAnyResponses(n: number, timeoutMs = 15_000): Promise<RawResponse[]> {
    await this.wait(() => this.responses().length >= n || this.parsed().switched, timeoutMs);
    return this.responses();
  }

  /** Wait for the server to close the connection (or `timeoutMs`). */
  async waitForClose(timeoutMs = 15_000): Promise<RawResult> {
    await this.wait(() => false, timeoutMs);
    return this.result();
  }

  /** What happened so far, as a RawResult (`end: 'timeout'` while still open). */
  result(): RawResult {
    const p = this.parsed();
    return {
      received: this.received,
      responses: p.responses,
      statuses: p.responses.map((r) => r.status),
      end: this.ended ?? 'timeout',
      error: this.err,
      parseError: p.error,
      rest: p.rest,
    };
  }

  /** Destroy the connection now. */
  close(): void {
    this.socket.destroy();
  }
}

/**
 * Send `bytes` on a new connection and read until the server closes it or `timeoutMs` passes
 * (then the connection is destroyed and `end` is 'timeout'). Add `Connection: close` to the last
 * request yourself when the server should close.
 */
export async function sendRaw(
  target: string | { host: string; port: number },
  bytes: string | Buffer,
  options: { timeoutMs?: number; methods?: readonly string[] } = {},
): Promise<RawResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const conn = await RawConnection.open(target, timeoutMs + 5_000);
  await conn.write(bytes, options.methods);
  const result = await conn.waitForClose(timeoutMs);
  conn.close();
  return result;
}
