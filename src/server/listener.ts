// HTTP(S) listeners and their graceful close. The public listener feeds the pipeline; the admin
// listener gets its own handler. Neither knows about config reloads.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenAddress } from '../config/compile.ts';
import { ConfigError, ERROR_CODES, type ErrorCode } from '../errors.ts';
import { createBodyWatch, type BodyLimits } from './body-guard.ts';

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
  const options = {
    // Slowloris (headers): Node answers 408 when the request line and headers are not complete in
    // time. It checks every connectionsCheckingInterval (default 30 s, which would double the
    // limit), so check four times per limit. Bodies have their own guard (body-guard.ts):
    // requestTimeout would cut large uploads that are merely long, not slow.
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(limits.headersTimeoutMs / 4))),
    requestTimeout: 0,
    keepAliveTimeout: 65_000,
    maxHeaderSize: MAX_HEADER_BYTES,
  };
  let server: Server;
  if (tls) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(tls.certFile);
      key = readFileSync(tls.keyFile);
    } catch (err) {
      throw new ConfigError([{ path: 'server.tls', message: `cannot read certificate or key: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
    }
    server = createHttpsServer({ ...options, cert, key });
  } else {
    server = createHttpServer(options);
  }
  const bodies = createBodyWatch(limits.body);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    bodies.watch(req, res);
    handlers.onRequest(req, res);
  });
  server.once('close', () => bodies.close());
  if (handlers.onUpgrade) server.on('upgrade', handlers.onUpgrade);
  // Refused by Node's parser (malformed, too large, too slow): answer with the fitting status and
  // close, instead of crashing or hanging; the handler records it.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const s = socket as Duplex & { bytesRead?: number; remoteAddress?: string; _httpMessage?: { headersSent?: boolean } | null };
    const bytesIn = s.bytesRead ?? 0;
    // A reset, or a connection that never sent a byte (an unused browser preconnect) before the
    // headers timeout, is not a refused request: close it quietly.
    if (err.code === 'ECONNRESET' || bytesIn === 0 || !socket.writable || s._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'GH_REQUEST_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'GH_REQUEST_TIMEOUT' : 'GH_BAD_REQUEST';
    const { status, title } = ERROR_CODES[code];
    const body = `${JSON.stringify({ error: code, message: title, status })}\n`;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n\r\n${body}`);
    // If the client does not read the answer, do not wait for it.
    setTimeout(() => socket.destroy(), 1000).unref();
    try {
      handlers.onClientError?.({ code, status, ip: plainIp(s.remoteAddress ?? ''), bytesIn });
    } catch {
      // Recording must not turn a refused request into a crash.
    }
  });
  return server;
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

/**
 * Stop accepting, let in-flight requests finish for up to `timeoutMs`, then cut what is left.
 * Idle keep-alive connections close at once.
 */
export function closeGracefully(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    timer.unref();
    // Keep-alive connections become idle as their last response ends; close them as they do.
    const sweeper = setInterval(() => server.closeIdleConnections(), 50);
    sweeper.unref();
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweeper);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** "http://127.0.0.1:4180" for a bound address (IPv6 in brackets). */
export function urlOf(addr: AddressInfo, tls: boolean): string {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
}
