// WebSocket upgrades through http-proxy-3: after the pipeline has routed and authorised
// the upgrade, the request goes upstream with rewritten headers and the two sockets are piped.
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyServer } from 'http-proxy-3';
import type { RouteConfig } from '../config/types.ts';
import { GatehouseError, type ErrorCode } from '../errors.ts';
import type { Exchange } from '../http/exchange.ts';
import { sendError } from '../http/respond.ts';
import { clientResponseHeaders, upstreamRequestFacts, upstreamRequestHeaders, type OutgoingHeaders } from './headers.ts';
import { mapPrefix, rewriteResponseHeaders, type PrefixMapping } from './prefix.ts';
import { upstreamError } from './upstream-errors.ts';

export interface WebSocketHooks {
  /** The upstream switched protocols; `socket` is the client side of the tunnel. */
  onOpen(ex: Exchange): void;
  /** The tunnel (or the failed attempt) is over. */
  onClose(ex: Exchange): void;
  onUpstreamError(ex: Exchange, err: GatehouseError): void;
}

/** Why Gatehouse ended a live connection: the WebSocket close reason (DESIGN.md), and the audit's. */
export type LiveEndReason = 'session revoked' | 'session expired';

/** RFC 6455 §7.4.1: 1008, "a message that violates its policy". */
const POLICY_VIOLATION = 1008;

// The upstream side of each open tunnel, so Gatehouse can end it with a close frame of its own.
const upstreamSockets = new WeakMap<Exchange, Duplex>();

/**
 * End an open tunnel because its session ended: the upstream connection is dropped, the client
 * gets a close frame (1008 and `reason`) and the connection is closed once it answered (or after
 * a second). A client can tell "signed out" from a network failure and not reconnect blindly.
 * (The upstream-to-client flow is stopped first; a frame the upstream was midway through sending
 * in that instant would be cut, and the client would see a protocol error instead.)
 */
export function endTunnel(ex: Exchange, reason: LiveEndReason): void {
  const client = ex.socket;
  const upstream = upstreamSockets.get(ex);
  if (upstream) {
    upstream.unpipe(client);
    client.unpipe(upstream);
    upstream.destroy();
  }
  // Read (and drop) what the client still sends, its close frame included, so its FIN is seen.
  client.resume();
  if (client.destroyed || !client.writable) {
    client.destroy();
    return;
  }
  const text = Buffer.from(reason, 'utf8');
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88; // FIN, opcode 8 (close); a server's frames are not masked
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(POLICY_VIOLATION, 2);
  text.copy(frame, 4);
  client.end(frame);
  setTimeout(() => client.destroy(), 1000).unref();
}

export interface WebSocketProxy {
  proxy(
    ex: Exchange,
    route: RouteConfig,
    head: Buffer,
    headers: { cookieName: string; reservedNames: ReadonlySet<string> },
    hooks: WebSocketHooks,
  ): void;
  close(): void;
}

export function createWebSocketProxy(): WebSocketProxy {
  return new TunnelProxy();
}

/** What the proxyReqWs listener needs to know about the upgrade it belongs to. */
interface PendingUpgrade {
  ex: Exchange;
  hooks: WebSocketHooks;
  cookieName: string;
  upstreamHost: string;
  prefix: PrefixMapping | undefined;
}

class TunnelProxy implements WebSocketProxy {
  readonly #server = new ProxyServer({ ws: true, xfwd: false, changeOrigin: false, prependPath: false });
  readonly #pending = new WeakMap<IncomingMessage, PendingUpgrade>();

  constructor() {
    // http-proxy-3 emits proxyReqWs before adding its own 'upgrade' and 'response' listeners, so
    // these run first: it then writes the 101, or relays the refused upgrade, from the headers as
    // filtered here, by the same rules as the HTTP path (clientResponseHeaders).
    this.#server.on('proxyReqWs', (proxyReq, req) => {
      const entry = this.#pending.get(req);
      if (!entry) return;
      proxyReq.once('upgrade', (proxyRes: IncomingMessage, upstreamSocket: Duplex) => onUpgrade(entry, proxyRes, upstreamSocket));
      proxyReq.once('response', (proxyRes: IncomingMessage) => onRefused(entry, proxyRes));
    });
    // Without a listener http-proxy-3 would throw on errors that have no per-call callback.
    this.#server.on('error', () => {});
  }

  proxy(
    ex: Exchange,
    route: RouteConfig,
    head: Buffer,
    headers: { cookieName: string; reservedNames: ReadonlySet<string> },
    hooks: WebSocketHooks,
  ): void {
    const req = ex.req;
    const upstream = route.upstream;
    const prefix = mapPrefix(route, ex.path);
    if (route.stripPrefix && !prefix) {
      sendError(
        ex,
        new GatehouseError(
          'GH_BAD_PATH',
          `The request path was refused: it does not begin with ${route.path} as written, which ${route.name} removes.`,
        ),
      );
      hooks.onClose(ex);
      return;
    }
    req.url = upstream.basePath + (prefix ? prefix.path : ex.path) + ex.query;
    // http-proxy-3 copies req.headers as they are; give it the cleaned set.
    req.headers = upstreamRequestHeaders(req.headers, upstreamRequestFacts(ex), {
      upstreamHost: upstream.host,
      preserveHost: route.preserveHost,
      keepUpgrade: true,
      forwardedPrefix: prefix?.prefix,
      ...headers,
    }) as IncomingMessage['headers'];
    this.#pending.set(req, { ex, hooks, cookieName: headers.cookieName, upstreamHost: upstream.host, prefix });
    ex.socket.once('close', () => hooks.onClose(ex));
    ex.proxied = true;
    this.#server.ws(
      req,
      ex.socket as Duplex,
      head,
      { target: upstream.origin, connectTimeout: route.timeoutMs, proxyTimeout: route.timeoutMs },
      (err) => {
        if (ex.upgraded) return; // mid-stream error: the sockets are already torn down
        const gerr = err instanceof GatehouseError ? err : upstreamError(err, route.name);
        hooks.onUpstreamError(ex, gerr);
        sendError(ex, gerr);
      },
    );
  }

  close(): void {
    this.#server.close();
  }
}

/** The upstream switched protocols: the 101 goes to the client with filtered headers. */
function onUpgrade(entry: PendingUpgrade, proxyRes: IncomingMessage, upstreamSocket: Duplex): void {
  const { ex } = entry;
  upstreamSockets.set(ex, upstreamSocket);
  proxyRes.headers = forClient(entry, 101, proxyRes.headers) as IncomingHttpHeaders;
  ex.upgraded = true;
  ex.status = 101;
  entry.hooks.onOpen(ex);
}

/** The upstream answered with an ordinary response: relayed, then the connection closes. */
function onRefused(entry: PendingUpgrade, proxyRes: IncomingMessage): void {
  const status = proxyRes.statusCode ?? 502;
  const headers = forClient(entry, status, proxyRes.headers);
  // http-proxy-3 closes the socket after relaying the body; without this it would echo our
  // upstream request's "Connection: upgrade".
  headers.connection = 'close';
  proxyRes.headers = headers as IncomingHttpHeaders;
  // As on the HTTP path, the upstream's reason phrase is not forwarded.
  proxyRes.statusMessage = STATUS_CODES[status] ?? '';
  entry.ex.status = status;
}

function forClient(entry: PendingUpgrade, status: number, headers: IncomingHttpHeaders): OutgoingHeaders {
  const out = clientResponseHeaders(entry.ex, status, headers, entry.cookieName);
  return entry.prefix
    ? rewriteResponseHeaders(out, entry.prefix, entry.upstreamHost, entry.ex.servedAuthority, entry.ex.client.proto, entry.ex.setCookies)
    : out;
}

export function upgradeNotSupported(code: ErrorCode = 'GH_BAD_REQUEST'): GatehouseError {
  return new GatehouseError(code, 'only WebSocket upgrades are supported');
}
