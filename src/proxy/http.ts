// HTTP proxying through undici's dispatch(): request body streamed from the client socket, response
// streamed back with backpressure (pause the upstream when the client is slow). Nothing is
// buffered, so a 1 GiB upload or an endless SSE stream costs a few socket buffers. Each request
// first takes one of its route's upstream connections (upstream.ts: bounded, queue bounded), and
// gives it back as soon as it is over; a client too slow with its body loses it (body-guard.ts).
import type { Dispatcher } from 'undici';
import type { RouteConfig } from '../config/types.ts';
import type { Exchange } from '../http/exchange.ts';
import { hasBody as requestHasBody, onBodyTimeout } from '../http/body-guard.ts';
import { sendError } from '../http/respond.ts';
import { clientResponseHeaders, upstreamRequestFacts, upstreamRequestHeaders } from './headers.ts';
import { mapPrefix, rewriteResponseHeaders } from './prefix.ts';
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
const streams = new WeakMap<Exchange, { controller: Dispatcher.DispatchController; sse: boolean; done: () => void }>();

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
  s?.done();
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

export function proxyHttp(ex: Exchange, route: RouteConfig, pool: RouteUpstream, headers: { cookieName: string; reservedNames: ReadonlySet<string> }, hooks: ProxyHooks): void {
  const cookieName = headers.cookieName;
  const req = ex.req;
  const res = ex.res!;
  const upstream = route.upstream;
  const hasBody = requestHasBody(req);
  const prefix = mapPrefix(route, ex.path);
  if (route.stripPrefix && !prefix) {
    sendError(ex, new GatehouseError('GH_BAD_PATH', `The request path was refused: it does not begin with ${route.path} as written, which ${route.name} removes.`));
    return;
  }
  let controller: Dispatcher.DispatchController | undefined;
  let finished = false;
  let dispatched = false;
  // Give the route's connection back (or leave its queue) exactly once.
  let leave: (() => void) | undefined;
  let over = false;
  const done = () => {
    if (over) return;
    over = true;
    leave?.();
    unguard();
  };

  const onClientClose = () => {
    if (!finished && controller && !controller.aborted) controller.abort(new ClientGone('client closed the connection'));
    if (!dispatched) done();
  };
  res.once('close', onClientClose);

  // The body stalled: abort the upstream request (answered in onResponseError), or, still queued,
  // answer here.
  let timedOut: GatehouseError | undefined;
  const unguard = hasBody
    ? onBodyTimeout(req, (err) => {
      timedOut = err;
      if (controller && !controller.aborted) controller.abort(err);
      else if (!dispatched) {
        finished = true;
        done();
        sendError(ex, err);
      }
    })
    : () => {};

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (timedOut) c.abort(timedOut);
      else if (res.destroyed) c.abort(new ClientGone('client closed the connection'));
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      ex.status = statusCode;
      // The upstream's reason phrase is not forwarded: Node's standard one cannot carry bad bytes.
      void statusMessage;
      try {
        const out = clientResponseHeaders(ex, statusCode, headers, cookieName);
        res.writeHead(statusCode, prefix ? rewriteResponseHeaders(out, prefix, upstream.host, ex.servedAuthority, ex.client.proto, ex.setCookies) : out);
      } catch (err) {
        c.abort(err as Error);
        return;
      }
      if (headers['content-length'] === undefined && statusCode !== 204 && statusCode !== 304) {
        // Send headers now so streaming responses (SSE) reach the client before the first chunk.
        res.flushHeaders();
        const type = headers['content-type'];
        streams.set(ex, { controller: c, sse: /^\s*text\/event-stream/i.test(Array.isArray(type) ? type.join(',') : String(type ?? '')), done });
        const unwatch = hooks.onStream(ex);
        if (unwatch) res.once('close', unwatch);
      }
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      finished = true;
      done();
      res.end();
    },
    onResponseError(_c, err) {
      finished = true;
      done();
      if (err instanceof ClientGone || err instanceof SessionEnded) return;
      // Ours (the client's body timed out): not the upstream's fault.
      if (err instanceof GatehouseError) {
        sendError(ex, err);
        return;
      }
      const gerr = upstreamError(err, route.name);
      hooks.onUpstreamError(ex, gerr);
      sendError(ex, gerr);
    },
  };

  const dispatch = () => {
    dispatched = true;
    pool.dispatcher.dispatch({
      path: upstream.basePath + (prefix ? prefix.path : ex.path) + ex.query,
      method: req.method as Dispatcher.HttpMethod,
      headers: upstreamRequestHeaders(req.headers, upstreamRequestFacts(ex), { upstreamHost: upstream.host, preserveHost: route.preserveHost, keepUpgrade: false, forwardedPrefix: prefix?.prefix, ...headers }),
      body: hasBody ? req : null,
      headersTimeout: route.timeoutMs,
      // Long-lived streams (SSE, large downloads) may be quiet for a long time; the client decides.
      bodyTimeout: 0,
    }, handler);
  };
  const busy = () => {
    finished = true;
    done();
    const err = new GatehouseError('GH_UPSTREAM_BUSY', `route ${route.name}: all ${route.maxConnections} upstream connections busy and the queue (${route.maxQueue}) full or waited ${route.timeoutMs} ms`);
    hooks.onUpstreamError(ex, err);
    sendError(ex, err);
  };
  const l = pool.enter(dispatch, busy, route.timeoutMs);
  // The request may already be over (refused while dispatching): give the place back at once.
  if (over) l();
  else leave = l;
}
