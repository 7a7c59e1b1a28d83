// HTTP(S) listeners and their graceful close. The public listener feeds the pipeline; the admin
// listener gets its own handler. Neither knows about config reloads.
//
// Draining (closeGracefully) never resets a client that may have sent a request: answers carry
// `Connection: close` from the moment the drain starts, a keep-alive connection is closed only
// once it has been idle for a moment after its last answer (never while a request is on it or its
// bytes are arriving), and requests still running at the deadline are answered 503
// GH_SHUTTING_DOWN rather than cut. Node's own server.close() would instead destroy every
// connection that looks idle at once — including one whose next request is already on the wire.
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenAddress } from '../config/types.ts';
import { ConfigError, ERROR_CODES, GatehouseError, type ErrorCode } from '../errors.ts';
import { createBodyWatch, type BodyLimits } from './body-guard.ts';
import { PAGE_CSP, renderErrorPage } from './pages.ts';
import { isBrowserNavigation, publicMessage } from './respond.ts';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A connection refused by Node's HTTP parser before any request existed, for the audit trail. */
export interface ClientRefusal {
  readonly code: ErrorCode;
  readonly status: number;
  readonly ip: string;
  /** Bytes the client had sent on the connection. */
  readonly bytesIn: number;
}

export interface ServerHandlers {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  onClientError?(refusal: ClientRefusal): void;
}

export interface ListenerLimits {
  /** Request line and headers must be complete within this. */
  readonly headersTimeoutMs: number;
  /** Read per request, so a reload applies to the next body. */
  body(): BodyLimits;
}

/** Node's own default, stated so that a --max-http-header-size flag cannot quietly change it. */
export const MAX_HEADER_BYTES = 16 * 1024;

const DEFAULT_LIMITS: ListenerLimits = { headersTimeoutMs: 30_000, body: () => ({ idleMs: 60_000, minRate: 500 }) };

export function createListener(handlers: ServerHandlers, tls?: TlsFiles, limits: ListenerLimits = DEFAULT_LIMITS): Server {
  const server = createServer(tls, {
    // Slowloris (headers): Node answers 408 when the request line and headers are not complete in
    // time. It checks every connectionsCheckingInterval (default 30 s, which would double the
    // limit), so check four times per limit. Bodies have their own guard (body-guard.ts):
    // requestTimeout would cut large uploads that are merely long, not slow.
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(limits.headersTimeoutMs / 4))),
    requestTimeout: 0,
    keepAliveTimeout: 65_000,
    maxHeaderSize: MAX_HEADER_BYTES,
  });
  const bodies = createBodyWatch(limits.body);
  const connections = trackConnections(server, tls !== undefined);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!connections.admit(req, res)) return;
    bodies.watch(req, res);
    handlers.onRequest(req, res);
  });
  server.once('close', () => bodies.close());
  const onUpgrade = handlers.onUpgrade;
  if (onUpgrade) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // No longer HTTP: a tunnel is closed by whoever opened it, not by the drain.
      connections.forget(socket);
      onUpgrade(req, socket, head);
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => refuseClient(err, socket, handlers));
  return server;
}

function createServer(tls: TlsFiles | undefined, options: ServerOptions): Server {
  if (!tls) return createHttpServer(options);
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(tls.certFile);
    key = readFileSync(tls.keyFile);
  } catch (err) {
    throw new ConfigError([
      { path: 'server.tls', message: `cannot read certificate or key: ${(err as NodeJS.ErrnoException).code ?? String(err)}` },
    ]);
  }
  return createHttpsServer({ ...options, cert, key });
}

/**
 * Refused by Node's parser (malformed, too large, too slow): answer with the fitting status and
 * close, instead of crashing or hanging; the handlers' onClientError records it.
 */
function refuseClient(err: NodeJS.ErrnoException, socket: Duplex, handlers: ServerHandlers): void {
  const s = socket as Duplex & { bytesRead?: number; remoteAddress?: string; _httpMessage?: { headersSent?: boolean } | null };
  const bytesIn = s.bytesRead ?? 0;
  // A reset, or a connection that never sent a byte (an unused browser preconnect) before the
  // headers timeout, is not a refused request: close it quietly.
  if (err.code === 'ECONNRESET' || bytesIn === 0 || !socket.writable || s._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'GH_REQUEST_HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'GH_REQUEST_TIMEOUT'
        : 'GH_BAD_REQUEST';
  const { status, title } = ERROR_CODES[code];
  const body = `${JSON.stringify({ error: code, message: title, status })}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n\r\n${body}`,
  );
  // If the client does not read the answer, do not wait for it.
  setTimeout(() => socket.destroy(), 1000).unref();
  try {
    handlers.onClientError?.({ code, status, ip: plainIp(s.remoteAddress ?? ''), bytesIn });
  } catch {
    // Recording must not turn a refused request into a crash.
  }
}

function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function listen(server: Server, address: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export interface DrainOptions {
  /**
   * Runs at the deadline, before the listener answers what is still running itself: e.g. fail
   * upstream requests with GH_SHUTTING_DOWN so the pipeline answers them with its own page
   * (request id, audit record). Resolves when those answers are written.
   */
  readonly onDeadline?: () => Promise<void>;
}

/**
 * Stop accepting; from now on every answer carries `Connection: close`; close keep-alive
 * connections once they have been idle for a moment (`idleGraceMs`, at most 1 s) after their last
 * answer; at `timeoutMs`, answer requests still running with 503 GH_SHUTTING_DOWN (cut those whose
 * answer had already started), then close everything. Resolves when every connection is closed.
 */
export function closeGracefully(server: Server, timeoutMs: number, options: DrainOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const tracked = trackers.get(server);
    let done = false;
    let deadline: NodeJS.Timeout | undefined;
    let sweeper: NodeJS.Timeout | undefined;
    const finish = () => {
      done = true;
      clearTimeout(deadline);
      clearInterval(sweeper);
      resolve();
    };
    // net.Server's close, not http.Server's: that one would also destroy every idle-looking
    // connection at once (Node >= 19), racing requests already on the wire.
    NetServer.prototype.close.call(server, finish);
    if (!tracked) {
      server.closeIdleConnections();
      deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
      deadline.unref();
      sweeper = setInterval(() => server.closeIdleConnections(), 50);
      sweeper.unref();
      return;
    }
    const idleGraceMs = Math.min(1000, Math.max(100, Math.floor(timeoutMs / 4)));
    tracked.startDrain();
    sweeper = setInterval(() => tracked.closeIdle(idleGraceMs), Math.min(100, idleGraceMs));
    sweeper.unref();
    deadline = setTimeout(() => {
      void (async () => {
        try {
          await options.onDeadline?.();
        } catch {
          // Whatever it could not answer is answered below.
        }
        if (done) return;
        tracked.answerRemaining();
        // Let those answers reach the clients, then close whatever is left.
        setTimeout(
          () => {
            server.closeAllConnections();
            tracked.destroyAll();
          },
          Math.min(1000, idleGraceMs * 2),
        ).unref();
      })();
    }, timeoutMs);
    deadline.unref();
  });
}

interface Connection {
  readonly socket: Socket;
  /** Responses not yet over on this connection. */
  readonly responses: Set<ServerResponse>;
  /** When the last response ended (or the connection opened). */
  idleSince: number;
  /** socket.bytesRead then: more means a next request is arriving. */
  idleBytes: number;
  /** We sent FIN: a request that still arrives cannot be answered. */
  closing: boolean;
}

interface ConnectionTracker {
  /** Bookkeeping for a new request; false when it must not be handled (its connection is closing). */
  admit(req: IncomingMessage, res: ServerResponse): boolean;
  forget(socket: Duplex): void;
  startDrain(): void;
  closeIdle(graceMs: number): void;
  answerRemaining(): void;
  destroyAll(): void;
}

const trackers = new WeakMap<Server, ConnectionTracker>();

function trackConnections(server: Server, tls: boolean): ConnectionTracker {
  const connections = new Map<Duplex, Connection>();
  let draining = false;
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    connections.set(socket, { socket, responses: new Set(), idleSince: Date.now(), idleBytes: 0, closing: false });
    socket.once('close', () => connections.delete(socket));
  });
  const tracker: ConnectionTracker = {
    admit(req, res) {
      const c = connections.get(req.socket);
      if (!c) return true;
      if (c.closing) {
        req.socket.destroy();
        return false;
      }
      c.responses.add(res);
      if (draining) res.shouldKeepAlive = false;
      // `on`: a response closes once, and once's wrapper is an allocation per request.
      res.on('close', () => {
        c.responses.delete(res);
        c.idleSince = Date.now();
        c.idleBytes = c.socket.bytesRead;
      });
      return true;
    },
    forget(socket) {
      connections.delete(socket);
    },
    startDrain() {
      draining = true;
      for (const c of connections.values()) {
        for (const res of c.responses) if (!res.headersSent) res.shouldKeepAlive = false;
      }
    },
    closeIdle(graceMs) {
      const now = Date.now();
      for (const c of connections.values()) {
        if (c.closing || c.responses.size > 0 || now - c.idleSince < graceMs || c.socket.bytesRead !== c.idleBytes) continue;
        // FIN, not a reset: a request crossing it on the wire is dropped by us, never answered
        // half-way; the client sees a closed connection.
        c.closing = true;
        c.socket.end();
        setTimeout(() => c.socket.destroy(), 1000).unref();
      }
    },
    answerRemaining() {
      for (const c of connections.values()) {
        for (const res of c.responses) answerShuttingDown(res);
      }
    },
    destroyAll() {
      for (const c of connections.values()) c.socket.destroy();
    },
  };
  trackers.set(server, tracker);
  return tracker;
}

/** 503 GH_SHUTTING_DOWN for a request still running at the drain deadline (or cut, if its answer began). */
function answerShuttingDown(res: ServerResponse): void {
  if (res.writableEnded) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const err = new GatehouseError('GH_SHUTTING_DOWN', 'the drain deadline (server.shutdown_timeout) passed');
  const req = res.req;
  const html = isBrowserNavigation(req);
  const requestId = typeof res.getHeader('x-request-id') === 'string' ? String(res.getHeader('x-request-id')) : 'unknown';
  const body = html
    ? renderErrorPage({ status: err.status, title: ERROR_CODES[err.code].title, message: publicMessage(err), requestId })
    : `${JSON.stringify({ error: err.code, message: publicMessage(err), status: err.status })}\n`;
  try {
    res.shouldKeepAlive = false;
    res.writeHead(err.status, {
      'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'content-security-policy': PAGE_CSP,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.destroy();
  }
}

/** "http://127.0.0.1:4180" for a bound address (IPv6 in brackets). */
export function urlOf(addr: AddressInfo, tls: boolean): string {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
}
