// Real receivers for audit sinks, on 127.0.0.1: an HTTP collector (Splunk HEC and NDJSON, gzip),
// an RFC 5424 syslog receiver over TCP or TLS (RFC 6587 octet counting) and over UDP (one datagram
// per message). Each checks the wire protocol strictly and keeps what it accepted, plus a list of
// protocol problems that tests expect to stay empty. Closed when the test finishes.
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { onTestFinished } from 'vitest';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// HTTP collector

export interface HttpPost {
  readonly path: string;
  readonly format: 'hec' | 'ndjson';
  readonly status: number;
  readonly records: number;
  readonly gzip: boolean;
}

export interface HttpAuditReceiver {
  readonly port: number;
  /** Base URL; POST anywhere under it. */
  readonly url: string;
  /** Record lines of the POSTs answered 2xx, in arrival order (envelopes removed). */
  readonly lines: string[];
  /** The same, by request path. */
  readonly linesByPath: Map<string, string[]>;
  /** Every POST that got through authentication. */
  readonly posts: HttpPost[];
  /** Protocol problems (wrong auth, bad body, bad content type); tests expect none. */
  readonly problems: string[];
  /** Status for the next POSTs: 2xx accepts the records, anything else refuses them. */
  status: number;
  /** Per-path override of `status` (undefined = use `status`). */
  statusFor: ((path: string) => number | undefined) | undefined;
  /** Answer after this long (a slow SIEM). */
  delayMs: number;
  start(): Promise<void>;
  /** Stop listening and cut open connections: the sink sees a receiver that is down. */
  stop(): Promise<void>;
  readonly listening: boolean;
}

export interface HttpReceiverOptions {
  readonly token: string;
  /** Listen on this port (default: OS-chosen). */
  readonly port?: number;
  /** Start listening now (default true); false = a known port with nothing on it yet. */
  readonly listen?: boolean;
  /** Leave it running when the test finishes (started in beforeAll: the caller stops it). */
  readonly keepRunning?: boolean;
}

/** Split `{...}{...} {...}` (whitespace allowed between objects) into the objects' texts. */
export function splitConcatenatedJson(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth === 0) {
        if (c !== '{') throw new Error(`expected an object at ${i}`);
        start = i;
      }
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth < 0) throw new Error(`unbalanced at ${i}`);
      if (depth === 0) out.push(text.slice(start, i + 1));
    } else if (depth === 0 && !/\s/.test(c)) throw new Error(`junk between objects at ${i}: ${JSON.stringify(c)}`);
  }
  if (depth !== 0 || inString) throw new Error('truncated body');
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startHttpReceiver(o: HttpReceiverOptions): Promise<HttpAuditReceiver> {
  const lines: string[] = [];
  const linesByPath = new Map<string, string[]>();
  const posts: HttpPost[] = [];
  const problems: string[] = [];
  let server: HttpServer | undefined;
  let port = o.port ?? 0;

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    const auth = req.headers.authorization;
    const format = auth === `Splunk ${o.token}` ? 'hec' : auth === `Bearer ${o.token}` ? 'ndjson' : undefined;
    if (req.method !== 'POST') problems.push(`method ${req.method}`);
    if (!format) {
      problems.push(`bad authorization header: ${JSON.stringify(auth)}`);
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"text":"Invalid authorization","code":3}');
      return;
    }
    const gzip = req.headers['content-encoding'] === 'gzip';
    let records: string[];
    try {
      const text = (gzip ? gunzipSync(raw) : raw).toString('utf8');
      const expectType = format === 'hec' ? 'application/json' : 'application/x-ndjson';
      if (req.headers['content-type'] !== expectType) problems.push(`${format}: content-type ${req.headers['content-type']}`);
      if (format === 'hec') {
        records = splitConcatenatedJson(text).map((obj) => {
          const parsed = JSON.parse(obj) as Record<string, unknown>;
          if (typeof parsed.event !== 'object' || parsed.event === null) throw new Error('HEC object without an event');
          return JSON.stringify(parsed.event);
        });
      } else {
        if (!text.endsWith('\n')) throw new Error('NDJSON body does not end with a newline');
        records = text.slice(0, -1).split('\n');
        for (const r of records) JSON.parse(r);
      }
    } catch (err) {
      problems.push(`bad body: ${(err as Error).message}`);
      res.writeHead(400).end();
      return;
    }
    if (rx.delayMs > 0) await sleep(rx.delayMs);
    const path = req.url ?? '/';
    const status = rx.statusFor?.(path) ?? rx.status;
    posts.push({ path, format, status, records: records.length, gzip });
    if (status >= 200 && status < 300) {
      lines.push(...records);
      linesByPath.set(path, [...(linesByPath.get(path) ?? []), ...records]);
    }
    res
      .writeHead(status, { 'content-type': 'application/json' })
      .end(status < 300 ? '{"text":"Success","code":0}' : '{"text":"Server is busy","code":9}');
  };

  const start = async () => {
    if (server) return;
    const s = createHttpServer((req, res) => {
      handler(req, res).catch((err: unknown) => {
        problems.push(`handler: ${(err as Error).message}`);
        res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    if (!s) return;
    server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  if (o.listen !== false) await start();
  else if (port === 0) throw new Error('listen: false needs a port');
  const rx: HttpAuditReceiver = {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    lines,
    linesByPath,
    posts,
    problems,
    status: 200,
    statusFor: undefined,
    delayMs: 0,
    start,
    stop,
    get listening() {
      return server !== undefined;
    },
  };
  if (!o.keepRunning) onTestFinished(stop);
  return rx;
}

// ---------------------------------------------------------------------------------------------
// Syslog

export interface SyslogMessage {
  readonly pri: number;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  readonly structuredData: string;
  readonly msg: string;
}

const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[[^\]]*\])+) ([\s\S]*)$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const PRINTUSASCII = /^[!-~]+$/;

/** Parse one RFC 5424 message strictly; a string return is the problem found. */
export function parseRfc5424(text: string): SyslogMessage | string {
  const m = RFC5424.exec(text);
  if (!m) return `not RFC 5424: ${JSON.stringify(text.slice(0, 120))}`;
  const [, pri, timestamp, hostname, appName, procId, msgId, structuredData, msg] = m as unknown as string[];
  if (Number(pri) > 191 || (pri!.length > 1 && pri!.startsWith('0'))) return `bad PRI ${pri}`;
  if (timestamp !== '-' && (!RFC3339.test(timestamp!) || Number.isNaN(Date.parse(timestamp!)))) return `bad TIMESTAMP ${timestamp}`;
  const fields: [string, string, number][] = [
    ['HOSTNAME', hostname!, 255],
    ['APP-NAME', appName!, 48],
    ['PROCID', procId!, 128],
    ['MSGID', msgId!, 32],
  ];
  for (const [name, value, max] of fields) {
    if (!PRINTUSASCII.test(value) || value.length > max) return `bad ${name} ${JSON.stringify(value)}`;
  }
  return {
    pri: Number(pri),
    timestamp: timestamp!,
    hostname: hostname!,
    appName: appName!,
    procId: procId!,
    msgId: msgId!,
    structuredData: structuredData!,
    msg: msg!,
  };
}

export interface SyslogReceiver {
  readonly port: number;
  readonly messages: SyslogMessage[];
  /** The MSG part of every message, in arrival order. */
  readonly lines: string[];
  readonly problems: string[];
  /** Frames / datagrams received (a forged record would make this larger than expected). */
  frames(): number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function collector() {
  const messages: SyslogMessage[] = [];
  const lines: string[] = [];
  const problems: string[] = [];
  let frames = 0;
  const accept = (buf: Buffer) => {
    frames++;
    const text = buf.toString('utf8');
    if (Buffer.byteLength(text) !== buf.length) problems.push('frame is not valid UTF-8');
    const parsed = parseRfc5424(text);
    if (typeof parsed === 'string') {
      problems.push(parsed);
      return;
    }
    messages.push(parsed);
    lines.push(parsed.msg);
  };
  return { messages, lines, problems, accept, frames: () => frames };
}

/** RFC 6587 §3.4.1 octet counting: MSG-LEN SP SYSLOG-MSG, MSG-LEN = NONZERO-DIGIT *DIGIT (bytes). */
function octetCountingReader(socket: Socket, accept: (frame: Buffer) => void, problems: string[]): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length === 0) return;
      const sp = buf.indexOf(0x20);
      if (sp === -1) {
        if (buf.length > 10) {
          problems.push(`no MSG-LEN: ${JSON.stringify(buf.subarray(0, 40).toString())}`);
          socket.destroy();
        }
        return;
      }
      const lenText = buf.subarray(0, sp).toString('latin1');
      if (!/^[1-9][0-9]{0,8}$/.test(lenText)) {
        problems.push(`bad MSG-LEN ${JSON.stringify(lenText.slice(0, 40))}`);
        socket.destroy();
        return;
      }
      const len = Number(lenText);
      if (buf.length < sp + 1 + len) return;
      accept(buf.subarray(sp + 1, sp + 1 + len));
      buf = buf.subarray(sp + 1 + len);
    }
  });
  socket.on('end', () => {
    if (buf.length > 0) problems.push(`connection ended inside a frame (${buf.length} bytes left)`);
  });
  socket.on('error', () => socket.destroy());
}

/** TCP (or TLS with `tls`) syslog receiver with octet-counting framing. */
export async function startSyslogStreamReceiver(o: { tls?: { key: Buffer; cert: Buffer } } = {}): Promise<SyslogReceiver> {
  const c = collector();
  const sockets = new Set<Socket>();
  let port = 0;
  let server: NetServer | undefined;
  const onSocket = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    octetCountingReader(s, c.accept, c.problems);
  };
  const start = async () => {
    if (server) return;
    ({ server, port } = await listenStream(o.tls, onSocket, port));
  };
  const stop = async () => {
    const s = server;
    if (!s) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const sock of sockets) sock.destroy();
    await closed;
    // Let the client side see the FIN before the test sends again (loopback: well under this).
    await sleep(50);
  };
  await start();
  onTestFinished(stop);
  return {
    get port() {
      return port;
    },
    messages: c.messages,
    lines: c.lines,
    problems: c.problems,
    frames: c.frames,
    start,
    stop,
  };
}

/** UDP syslog receiver: one RFC 5424 message per datagram. */
export async function startSyslogUdpReceiver(): Promise<SyslogReceiver> {
  const c = collector();
  let port = 0;
  let sock: UdpSocket | undefined;
  const start = async () => {
    if (sock) return;
    const s = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    s.on('message', (msg) => c.accept(msg));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    port = s.address().port;
    sock = s;
  };
  const stop = async () => {
    const s = sock;
    if (!s) return;
    sock = undefined;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await start();
  onTestFinished(stop);
  return {
    get port() {
      return port;
    },
    messages: c.messages,
    lines: c.lines,
    problems: c.problems,
    frames: c.frames,
    start,
    stop,
  };
}

/** A self-signed certificate for localhost / 127.0.0.1, made with openssl in a temp dir. */
export function selfSignedCert(): { dir: string; keyFile: string; certFile: string; key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { dir, keyFile, certFile, key: readFileSync(keyFile), cert: readFileSync(certFile) };
}

/**
 * A TCP (or, with `tls`, TLS) listener on 127.0.0.1 for stand-in receivers that are stopped and
 * started again on the same port; `port` 0 picks one.
 */
export async function listenStream(
  tls: { key: string | Buffer; cert: string | Buffer } | undefined,
  onSocket: (s: Socket) => void,
  port: number,
): Promise<{ server: NetServer; port: number }> {
  const s: NetServer = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, onSocket) : createNetServer(onSocket);
  s.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve());
  });
  return { server: s, port: (s.address() as AddressInfo).port };
}
