// WebSocket upgrades through http-proxy-3: after the pipeline has routed and authorised
// the upgrade, the request goes upstream with rewritten headers and the two sockets are piped.
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyServer } from 'http-proxy-3';
import type { RouteConfig } from '../config/types.ts';
import { GatehouseError, type ErrorCode } from '../errors.ts';
import type { Exchange } from '../http/exchange.ts';
import { sendError } from '../http/respond.ts';
import { clientResponseHeaders, upstreamRequestFacts, upstreamRequestHeaders } from './headers.ts';
import { upstreamError } from './upstream-errors.ts';

export interface WebSocketHooks {
  /** The upstream switched protocols; `socket` is the client side of the tunnel. */
  onOpen(ex: Exchange): void;
  /** The tunnel (or the failed attempt) is over. */
  onClose(ex: Exchange): void;
  onUpstreamError(ex: Exchange, err: GatehouseError): void;
}

export interface WebSocketProxy {
  proxy(ex: Exchange, route: RouteConfig, head: Buffer, headers: { cookieName: string; reservedNames: ReadonlySet<string> }, hooks: WebSocketHooks): void;
  close(): void;
}

export function createWebSocketProxy(): WebSocketProxy {
  const server = new ProxyServer({ ws: true, xfwd: false, changeOrigin: false, prependPath: false });
  const exchanges = new WeakMap<IncomingMessage, { ex: Exchange; hooks: WebSocketHooks; cookieName: string }>();

  // http-proxy-3 emits proxyReqWs before adding its own 'upgrade' and 'response' listeners, so
  // these run first: it then writes the 101, or relays the refused upgrade, from the headers as
  // filtered here, by the same rules as the HTTP path (clientResponseHeaders).
  server.on('proxyReqWs', (proxyReq, req) => {
    const entry = exchanges.get(req);
    if (!entry) return;
    const { ex, cookieName } = entry;
    proxyReq.once('upgrade', (proxyRes: IncomingMessage) => {
      proxyRes.headers = clientResponseHeaders(ex, 101, proxyRes.headers, cookieName) as IncomingHttpHeaders;
      ex.upgraded = true;
      ex.status = 101;
      entry.hooks.onOpen(ex);
    });
    proxyReq.once('response', (proxyRes: IncomingMessage) => {
      const status = proxyRes.statusCode ?? 502;
      const headers = clientResponseHeaders(ex, status, proxyRes.headers, cookieName);
      // http-proxy-3 closes the socket after relaying the body; without this it would echo our
      // upstream request's "Connection: upgrade".
      headers.connection = 'close';
      proxyRes.headers = headers as IncomingHttpHeaders;
      // As on the HTTP path, the upstream's reason phrase is not forwarded.
      proxyRes.statusMessage = STATUS_CODES[status] ?? '';
      ex.status = status;
    });
  });
  // Without a listener http-proxy-3 would throw on errors that have no per-call callback.
  server.on('error', () => {});

  return {
    proxy(ex, route, head, headers, hooks) {
      const req = ex.req;
      const upstream = route.upstream;
      req.url = upstream.basePath + ex.path + ex.query;
      // http-proxy-3 copies req.headers as they are; give it the cleaned set.
      req.headers = upstreamRequestHeaders(req.headers, upstreamRequestFacts(ex), { upstreamHost: upstream.host, preserveHost: route.preserveHost, keepUpgrade: true, ...headers }) as IncomingMessage['headers'];
      exchanges.set(req, { ex, hooks, cookieName: headers.cookieName });
      ex.socket.once('close', () => hooks.onClose(ex));
      server.ws(req, ex.socket as Duplex, head, { target: upstream.origin, connectTimeout: route.timeoutMs, proxyTimeout: route.timeoutMs }, (err) => {
        if (ex.upgraded) return; // mid-stream error: the sockets are already torn down
        const gerr = err instanceof GatehouseError ? err : upstreamError(err, route.name);
        hooks.onUpstreamError(ex, gerr);
        sendError(ex, gerr);
      });
    },
    close() {
      server.close();
    },
  };
}

export function upgradeNotSupported(code: ErrorCode = 'GH_BAD_REQUEST'): GatehouseError {
  return new GatehouseError(code, 'only WebSocket upgrades are supported');
}
