// HTTP(S) listeners and their graceful close. The public listener feeds the pipeline; the admin
// listener gets its own handler. Neither knows about config reloads.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenAddress } from '../config/compile.ts';
import { ConfigError } from '../errors.ts';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerHandlers {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export function createListener(handlers: ServerHandlers, tls?: TlsFiles): Server {
  const options = {
    // Slowloris guard for headers; bodies (large uploads) are not time-limited here.
    headersTimeout: 30_000,
    requestTimeout: 0,
    keepAliveTimeout: 65_000,
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
    server = createHttpsServer({ ...options, cert, key }, handlers.onRequest);
  } else {
    server = createHttpServer(options, handlers.onRequest);
  }
  if (handlers.onUpgrade) server.on('upgrade', handlers.onUpgrade);
  // A malformed request line or headers: answer 400 and close instead of crashing or hanging.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
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
