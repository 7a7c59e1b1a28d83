// HTTP proxying through undici's dispatch(): request body streamed from the client socket, response
// streamed back with backpressure (pause the upstream when the client is slow). Nothing is
// buffered, so a 1 GiB upload or an endless SSE stream costs a few socket buffers.
import type { Dispatcher, Pool } from 'undici';
import type { RouteConfig } from '../config/compile.ts';
import type { Exchange } from '../server/exchange.ts';
import { sendError } from '../server/respond.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { upstreamError } from './upstream-errors.ts';
import type { GatehouseError } from '../errors.ts';

/** Reason passed to controller.abort() when the client went away first. */
class ClientGone extends Error {
  override name = 'ClientGone';
}

export interface ProxyHooks {
  /** Called once per upstream failure, before the error page is sent. */
  onUpstreamError(ex: Exchange, err: GatehouseError): void;
  /** An open-ended response (no Content-Length) started; returns its clean-up, if any. */
  onStream(ex: Exchange): (() => void) | undefined;
}

export function proxyHttp(ex: Exchange, route: RouteConfig, pool: Pool, headers: { cookieName: string; reservedNames: ReadonlySet<string> }, hooks: ProxyHooks): void {
  const cookieName = headers.cookieName;
  const req = ex.req;
  const res = ex.res!;
  const upstream = route.upstream;
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  let controller: Dispatcher.DispatchController | undefined;
  let finished = false;

  const onClientClose = () => {
    if (!finished && controller && !controller.aborted) controller.abort(new ClientGone('client closed the connection'));
  };
  res.once('close', onClientClose);

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (res.destroyed) c.abort(new ClientGone('client closed the connection'));
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      ex.status = statusCode;
      // The upstream's reason phrase is not forwarded: Node's standard one cannot carry bad bytes.
      void statusMessage;
      try {
        res.writeHead(statusCode, clientResponseHeaders(ex, statusCode, headers, cookieName));
      } catch (err) {
        c.abort(err as Error);
        return;
      }
      if (headers['content-length'] === undefined && statusCode !== 204 && statusCode !== 304) {
        // Send headers now so streaming responses (SSE) reach the client before the first chunk.
        res.flushHeaders();
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
      res.end();
    },
    onResponseError(_c, err) {
      finished = true;
      if (err instanceof ClientGone) return;
      const gerr = upstreamError(err, route.name);
      hooks.onUpstreamError(ex, gerr);
      sendError(ex, gerr);
    },
  };

  pool.dispatch({
    path: upstream.basePath + ex.path + ex.query,
    method: req.method as Dispatcher.HttpMethod,
    headers: upstreamRequestHeaders(ex, { upstreamHost: upstream.host, preserveHost: route.preserveHost, keepUpgrade: false, ...headers }),
    body: hasBody ? req : null,
    headersTimeout: route.timeoutMs,
    // Long-lived streams (SSE, large downloads) may be quiet for a long time; the client decides.
    bodyTimeout: 0,
  }, handler);
}
