// HTTP proxying through undici's dispatch(): request body streamed from the client socket, response
// streamed back with backpressure (pause the upstream when the client is slow). Nothing is
// buffered, so a 1 GiB upload or an endless SSE stream costs a few socket buffers. Each request
// first takes one of its route's upstream connections (upstream.ts: bounded, queue bounded), and
// gives it back as soon as it is over; a client too slow with its body loses it (body-guard.ts).
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RouteConfig } from '../config/types.ts';
import type { Exchange } from '../http/exchange.ts';
import { hasBody as requestHasBody, onBodyTimeout } from '../http/body-guard.ts';
import { sendError } from '../http/respond.ts';
import { clientResponseHeaders, upstreamRequestFacts, upstreamRequestHeaders, type UpstreamHeaderContext } from './headers.ts';
import { mapPrefix, rewriteResponseHeaders, type PrefixMapping } from './prefix.ts';
import type { RouteUpstream } from './upstream.ts';
import { upstreamError } from './upstream-errors.ts';
import { GatehouseError } from '../errors.ts';

/** Reason passed to controller.abort() when the client went away first. */
class ClientGone extends Error {
  override name = 'ClientGone';
}

/** Reason passed to controller.abort() when Gatehouse ends a stream because its session ended. */
class SessionEnded extends Error {
  override name = 'SessionEnded';
}

// Open-ended responses in flight, so Gatehouse can end them when their session ends (endStream).
const streams = new WeakMap<Exchange, { controller: Dispatcher.DispatchController; sse: boolean; forward: HttpForward }>();

/**
 * End an open-ended response because its session ended. An event stream gets a final event
 * (`event: gatehouse-session-ended`, the reason as data) and ends cleanly, so an EventSource sees
 * why; any other stream is cut (a client must not take a truncated download for a whole one).
 */
export function endStream(ex: Exchange, reason: string): void {
  const res = ex.res;
  const s = streams.get(ex);
  streams.delete(ex);
  if (s && !s.controller.aborted) s.controller.abort(new SessionEnded(reason));
  s?.forward.release();
  if (!res || res.writableEnded || res.destroyed) return;
  if (s?.sse) res.end(`\n\nevent: gatehouse-session-ended\ndata: ${reason}\n\n`);
  else res.destroy();
}

export interface ProxyHooks {
  /** Called once per upstream failure, before the error page is sent. */
  onUpstreamError(ex: Exchange, err: GatehouseError): void;
  /** An open-ended response (no Content-Length) started; returns its clean-up, if any. */
  onStream(ex: Exchange): (() => void) | undefined;
}

/** What proxyHttp needs to build the upstream request's headers (Runtime.upstreamHeaders). */
export interface UpstreamHeaderSettings {
  cookieName: string;
  reservedNames: ReadonlySet<string>;
}

export function proxyHttp(ex: Exchange, route: RouteConfig, pool: RouteUpstream, headers: UpstreamHeaderSettings, hooks: ProxyHooks): void {
  const prefix = mapPrefix(route, ex.path);
  if (route.stripPrefix && !prefix) {
    sendError(
      ex,
      new GatehouseError(
        'GH_BAD_PATH',
        `The request path was refused: it does not begin with ${route.path} as written, which ${route.name} removes.`,
      ),
    );
    return;
  }
  const forward = new HttpForward(ex, ex.res!, route, headers, hooks, prefix);
  forward.hold(
    pool.enter(
      () => forward.dispatch(pool),
      () => forward.busy(),
      route.timeoutMs,
    ),
  );
}

const noGuard = () => {};

/** A route's upstream header context, by route and settings (a reload replaces both objects). */
const contexts = new WeakMap<RouteConfig, { readonly settings: UpstreamHeaderSettings; readonly ctx: UpstreamHeaderContext }>();

/** The context upstreamRequestHeaders needs: built once per route, except under a prefix mapping (its spelling is the client's). */
function headerContext(route: RouteConfig, settings: UpstreamHeaderSettings, prefix: PrefixMapping | undefined): UpstreamHeaderContext {
  if (prefix) return buildContext(route, settings, prefix.prefix);
  const kept = contexts.get(route);
  if (kept?.settings === settings) return kept.ctx;
  const ctx = buildContext(route, settings, undefined);
  contexts.set(route, { settings, ctx });
  return ctx;
}

function buildContext(route: RouteConfig, settings: UpstreamHeaderSettings, forwardedPrefix: string | undefined): UpstreamHeaderContext {
  return {
    upstreamHost: route.upstream.host,
    preserveHost: route.preserveHost,
    keepUpgrade: false,
    forwardedPrefix,
    cookieName: settings.cookieName,
    reservedNames: settings.reservedNames,
  };
}

/**
 * One proxied request, and the undici dispatch handler for it. Its methods are the request's
 * phases in the order undici calls them: request head (onRequestStart), response head
 * (onResponseStart: header and prefix rewriting, then open-ended streams), body
 * (onResponseData: backpressure), and the end (onResponseEnd, or onResponseError). State lives
 * in fields and the phases on the prototype, so a request allocates no handler closures.
 */
class HttpForward implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange;
  readonly #res: ServerResponse;
  readonly #route: RouteConfig;
  readonly #headers: UpstreamHeaderSettings;
  readonly #hooks: ProxyHooks;
  readonly #prefix: PrefixMapping | undefined;
  readonly #hasBody: boolean;
  readonly #unguard: () => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** The response ended, or failed: a client leaving now aborts nothing. */
  #finished = false;
  #dispatched = false;
  /** Gives the route's connection back (or leaves its queue); set once pool.enter returns. */
  #leave: (() => void) | undefined;
  #over = false;
  /** The client's body stalled before undici handed us a controller. */
  #timedOut: GatehouseError | undefined;

  constructor(
    ex: Exchange,
    res: ServerResponse,
    route: RouteConfig,
    headers: UpstreamHeaderSettings,
    hooks: ProxyHooks,
    prefix: PrefixMapping | undefined,
  ) {
    this.#ex = ex;
    this.#res = res;
    this.#route = route;
    this.#headers = headers;
    this.#hooks = hooks;
    this.#prefix = prefix;
    this.#hasBody = requestHasBody(ex.req);
    res.once('close', () => this.#clientClosed());
    this.#unguard = this.#hasBody ? onBodyTimeout(ex.req, (err) => this.#bodyTimedOut(err)) : noGuard;
  }

  /** Keep pool.enter's release; the request may already be over (refused while dispatching): give the place back at once. */
  hold(leave: () => void): void {
    if (this.#over) leave();
    else this.#leave = leave;
  }

  /** Give the route's connection back (or leave its queue) exactly once. */
  release(): void {
    if (this.#over) return;
    this.#over = true;
    this.#leave?.();
    this.#unguard();
  }

  /** The route has a connection for us: send the request upstream. */
  dispatch(pool: RouteUpstream): void {
    this.#dispatched = true;
    const ex = this.#ex;
    ex.proxied = true;
    const route = this.#route;
    const upstream = route.upstream;
    const prefix = this.#prefix;
    pool.dispatcher.dispatch(
      {
        path: upstream.basePath + (prefix ? prefix.path : ex.path) + ex.query,
        method: ex.req.method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(ex.req.headers, upstreamRequestFacts(ex), headerContext(route, this.#headers, prefix)),
        body: this.#hasBody ? ex.req : null,
        headersTimeout: route.timeoutMs,
        // Long-lived streams (SSE, large downloads) may be quiet for a long time; the client decides.
        bodyTimeout: 0,
      },
      this,
    );
  }

  /** No connection and no place in the queue (or waited too long). */
  busy(): void {
    this.#finished = true;
    this.release();
    const route = this.#route;
    const err = new GatehouseError(
      'GH_UPSTREAM_BUSY',
      `route ${route.name}: all ${route.maxConnections} upstream connections busy and the queue (${route.maxQueue}) full or waited ${route.timeoutMs} ms`,
    );
    this.#hooks.onUpstreamError(this.#ex, err);
    sendError(this.#ex, err);
  }

  #clientClosed(): void {
    const c = this.#controller;
    if (!this.#finished && c && !c.aborted) c.abort(new ClientGone('client closed the connection'));
    if (!this.#dispatched) this.release();
  }

  // The body stalled: abort the upstream request (answered in onResponseError), or, still queued,
  // answer here.
  #bodyTimedOut(err: GatehouseError): void {
    this.#timedOut = err;
    const c = this.#controller;
    if (c && !c.aborted) c.abort(err);
    else if (!this.#dispatched) {
      this.#finished = true;
      this.release();
      sendError(this.#ex, err);
    }
  }

  // Phase 1, request head: undici is about to send; the client may have gone meanwhile.
  onRequestStart(c: Dispatcher.DispatchController): void {
    this.#controller = c;
    if (this.#timedOut) c.abort(this.#timedOut);
    else if (this.#res.destroyed) c.abort(new ClientGone('client closed the connection'));
  }

  // Phase 2, response head: the client's headers, then, for an open-ended response, the stream.
  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#ex.status = statusCode;
    // The upstream's reason phrase is not forwarded: Node's standard one cannot carry bad bytes.
    void statusMessage;
    try {
      this.#writeHead(statusCode, headers);
    } catch (err) {
      c.abort(err as Error);
      return;
    }
    if (headers['content-length'] === undefined && statusCode !== 204 && statusCode !== 304) this.#openStream(c, headers);
  }

  /** Response headers for the client (clientResponseHeaders), put back under the prefix on a strip_prefix route. */
  #writeHead(statusCode: number, headers: IncomingHttpHeaders): void {
    const ex = this.#ex;
    const prefix = this.#prefix;
    const out = clientResponseHeaders(ex, statusCode, headers, this.#headers.cookieName);
    this.#res.writeHead(
      statusCode,
      prefix ? rewriteResponseHeaders(out, prefix, this.#route.upstream.host, ex.servedAuthority, ex.client.proto, ex.setCookies) : out,
    );
  }

  /** An open-ended response: headers out now, and the stream registered so its session's end can end it. */
  #openStream(c: Dispatcher.DispatchController, headers: IncomingHttpHeaders): void {
    // Send headers now so streaming responses (SSE) reach the client before the first chunk.
    this.#res.flushHeaders();
    const type = headers['content-type'];
    streams.set(this.#ex, {
      controller: c,
      sse: /^\s*text\/event-stream/i.test(Array.isArray(type) ? type.join(',') : String(type ?? '')),
      forward: this,
    });
    const unwatch = this.#hooks.onStream(this.#ex);
    if (unwatch) this.#res.once('close', unwatch);
  }

  // Phase 3, body: pause the upstream while the client's socket is full.
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      c.pause();
      this.#res.once('drain', () => c.resume());
    }
  }

  // Phase 4a, the end.
  onResponseEnd(): void {
    this.#finished = true;
    this.release();
    this.#res.end();
  }

  // Phase 4b, errors: ours (client gone, session ended, body timed out) or the upstream's.
  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.#finished = true;
    this.release();
    if (err instanceof ClientGone || err instanceof SessionEnded) return;
    // Ours (the client's body timed out): not the upstream's fault.
    if (err instanceof GatehouseError) {
      sendError(this.#ex, err);
      return;
    }
    const gerr = upstreamError(err, this.#route.name);
    this.#hooks.onUpstreamError(this.#ex, gerr);
    sendError(this.#ex, gerr);
  }
}
