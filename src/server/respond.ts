// Render a GatehouseError for the client: an HTML page for browsers, JSON for API clients, always
// with the request id. Works for normal responses and for WebSocket upgrades (raw socket).
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { ERROR_CODES, type GatehouseError } from '../errors.ts';
import type { Exchange } from './exchange.ts';
import { LOGIN_PATH, REQUEST_ID_HEADER } from './endpoints.ts';
import { renderErrorPage } from './pages.ts';

// What a 5xx says to the client; the real cause stays in the operational log.
const SERVER_SIDE_MESSAGES: Partial<Record<GatehouseError['code'], string>> = {
  GH_UPSTREAM_UNREACHABLE: 'The application behind this address is not reachable right now. Try again in a moment.',
  GH_UPSTREAM_RESET: 'The connection to the application behind this address failed. Try again in a moment.',
  GH_UPSTREAM_TIMEOUT: 'The application behind this address did not answer in time.',
  GH_SHUTTING_DOWN: 'Gatehouse is restarting. Try again in a moment.',
  GH_IDP_UNAVAILABLE: 'The identity provider cannot be reached right now, so signing in is not possible. Try again in a moment; if you are already signed in, nothing changes for you.',
  GH_STORE_UNAVAILABLE: 'Sign-in sessions are temporarily unavailable, so protected applications are closed for now. Try again in a moment.',
};

/** Browsers ask for HTML; everything else (curl, SDKs, fetch) gets JSON. */
export function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  return accept !== undefined && accept.includes('text/html');
}

export function publicMessage(err: GatehouseError): string {
  if (err.expose) return err.message;
  return SERVER_SIDE_MESSAGES[err.code] ?? 'Something went wrong inside Gatehouse.';
}

interface Rendered {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function render(ex: Exchange, err: GatehouseError): Rendered {
  const title = ERROR_CODES[err.code].title;
  const message = publicMessage(err);
  const html = wantsHtml(ex.req);
  const body = html
    ? renderErrorPage({ status: err.status, title, message, requestId: ex.id })
    : `${JSON.stringify({ error: err.code, message, status: err.status, request_id: ex.id, ...(ex.route ? { route: ex.route.name } : {}) })}\n`;
  return {
    status: err.status,
    body,
    headers: {
      'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      [REQUEST_ID_HEADER]: ex.id,
    },
  };
}

/** Answer `ex` with `err`. If the response already started, the connection is cut instead. */
export function sendError(ex: Exchange, err: GatehouseError): void {
  ex.errorCode = err.code;
  ex.decision ??= 'error';
  const res = ex.res;
  // A browser that needs to sign in is sent to the sign-in page instead of an error page.
  if (err.code === 'GH_UNAUTHENTICATED' && res && !res.headersSent && isBrowserNavigation(ex.req)) {
    const rd = ex.path + ex.query;
    const status = ex.req.method === 'GET' || ex.req.method === 'HEAD' ? 302 : 303;
    sendRedirect(ex, status, `${LOGIN_PATH}?rd=${encodeURIComponent(rd)}`);
    return;
  }
  ex.status = err.status;
  const r = render(ex, err);
  if (!res) {
    writeRawResponse(ex, r);
    return;
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  try {
    res.statusMessage = '';
    if (ex.setCookies) res.setHeader('set-cookie', ex.setCookies);
    res.writeHead(r.status, r.headers);
    res.end(ex.req.method === 'HEAD' ? undefined : r.body);
  } catch {
    // The response cannot be written any more: end the connection rather than leave it hanging.
    res.destroy();
  }
}

/** A top-level browser page load (not fetch/XHR): gets redirects and HTML pages. */
export function isBrowserNavigation(req: IncomingMessage): boolean {
  if (!wantsHtml(req) || req.headers.authorization) return false;
  const mode = req.headers['sec-fetch-mode'];
  return mode === undefined || mode === 'navigate';
}

export function sendRedirect(ex: Exchange, status: number, location: string): void {
  const res = ex.res!;
  ex.status = status;
  const headers: Record<string, string | string[]> = { location, 'cache-control': 'no-store', 'content-length': '0', [REQUEST_ID_HEADER]: ex.id };
  if (ex.setCookies) headers['set-cookie'] = ex.setCookies;
  res.writeHead(status, headers);
  res.end();
}

/** A page or JSON document Gatehouse produces itself (internal endpoints). */
export function sendBody(ex: Exchange, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  const res = ex.res!;
  ex.status = status;
  const headers: Record<string, string | string[]> = {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    [REQUEST_ID_HEADER]: ex.id,
    ...extra,
  };
  if (ex.setCookies) headers['set-cookie'] = ex.setCookies;
  res.writeHead(status, headers);
  res.end(ex.req.method === 'HEAD' ? undefined : body);
}

/** Upgrade requests have no ServerResponse: write HTTP/1.1 by hand and close. */
function writeRawResponse(ex: Exchange, r: Rendered): void {
  const socket = ex.socket;
  if (socket.destroyed) return;
  let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\nconnection: close\r\n`;
  for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
  socket.end(`${head}\r\n${r.body}`);
}
