// Render a GatehouseError for the client: an HTML page for browsers, JSON for API clients, always
// with the request id. Works for normal responses and for WebSocket upgrades (raw socket).
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { ERROR_CODES, errorSpec, ForbiddenError, GatehouseError } from '../errors.ts';
import type { Exchange } from './exchange.ts';
import { LOGIN_PATH, REQUEST_ID_HEADER } from './endpoints.ts';
import { PAGE_CSP, renderErrorPage, switchAccountLink } from './pages.ts';

/**
 * Does this client prefer an HTML page? True when the best match in Accept is text/html (or
 * XHTML). Browsers send "text/html,...;q=0.9" plus a low-q wildcard; curl's bare wildcard, SDKs'
 * "application/json" and "application/json, text/html;q=0.5" all get JSON.
 */
export function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (accept === undefined || !accept.includes('html')) return false;
  let html = 0;
  let other = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qp = params.find((p) => p.trim().startsWith('q='));
    const q = qp ? Number(qp.trim().slice(2)) : 1;
    if (!(q > 0)) continue;
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, q);
    else if (!type.endsWith('/*')) other = Math.max(other, q);
  }
  return html > 0 && html >= other;
}

/** What the client is told: a 4xx's own message; for a 5xx its table text (the cause stays in the log). */
export function publicMessage(err: GatehouseError): string {
  if (err.expose) return err.message;
  return errorSpec(err.code).publicMessage ?? 'Something went wrong inside Gatehouse.';
}

/** HSTS (RFC 6797) when Gatehouse itself terminates TLS; an ingress in front of it sets its own. */
export function strictTransportSecurity(ex: Exchange): string | undefined {
  return (ex.socket as { encrypted?: boolean }).encrypted === true ? 'max-age=31536000' : undefined;
}

/**
 * Write the status line and headers of a response Gatehouse answers itself. Every such response
 * carries the request id and the cookies the exchange has pending (a dead session cookie cleared,
 * say); `ex.status` records what was written. `headers` is taken over.
 */
export function writeHead(ex: Exchange, status: number, headers: OutgoingHttpHeaders): void {
  const res = ex.res;
  if (!res) throw new GatehouseError('GH_INTERNAL', 'a WebSocket upgrade has no response to write a head on');
  headers[REQUEST_ID_HEADER] = ex.id;
  if (ex.setCookies) headers['set-cookie'] = ex.setCookies;
  ex.status = status;
  res.writeHead(status, headers);
}

/**
 * Headers on every response Gatehouse writes itself (pages, JSON, redirects): never framed
 * (clickjacking, CWE-1021: X-Frame-Options for browsers without CSP frame-ancestors), never
 * sniffed, never cached, and no Referer leaking sign-in URLs (state, code, rd) to where it points.
 */
function ownHeaders(ex: Exchange): Record<string, string> {
  const h: Record<string, string> = {
    'cache-control': 'no-store',
    'content-security-policy': PAGE_CSP,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    // Upgrades are answered on the raw socket, without writeHead.
    [REQUEST_ID_HEADER]: ex.id,
  };
  const hsts = strictTransportSecurity(ex);
  if (hsts !== undefined) h['strict-transport-security'] = hsts;
  return h;
}

interface Rendered {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function render(ex: Exchange, err: GatehouseError): Rendered {
  const title = ERROR_CODES[err.code].title;
  const message = publicMessage(err);
  // The same client classification as for redirects: API clients get JSON whatever they accept.
  const html = ex.browser === false ? false : isBrowserNavigation(ex.req);
  const groups = err instanceof ForbiddenError && err.grantingGroups.length > 0 ? err.grantingGroups : undefined;
  const body = html
    ? renderErrorPage({
        status: err.status,
        title,
        message,
        requestId: ex.id,
        links: err.status === 403 && ex.session ? [switchAccountLink(ex.path + ex.query)] : [],
      })
    : `${JSON.stringify({ error: err.code, message, status: err.status, request_id: ex.id, ...(ex.route ? { route: ex.route.name } : {}), ...(groups ? { groups } : {}) })}\n`;
  const headers: Record<string, string> = {
    ...ownHeaders(ex),
    'content-type': html ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  };
  // RFC 6750: tell token clients what went wrong.
  if (err.code === 'GH_BAD_TOKEN') headers['www-authenticate'] = 'Bearer error="invalid_token"';
  else if (err.code === 'GH_UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer';
  return { status: err.status, body, headers };
}

/** Answer `ex` with `err`. If the response already started, the connection is cut instead. */
export function sendError(ex: Exchange, err: GatehouseError): void {
  ex.errorCode = err.code;
  ex.decision ??= 'error';
  const res = ex.res;
  // A browser that needs to sign in is sent to the sign-in page instead of an error page.
  if (ex.forwardAuthUrl !== undefined && res && !res.headersSent && (err.code === 'GH_UNAUTHENTICATED' || err.code === 'GH_BAD_TOKEN')) {
    // Forward-auth: the ingress answers the user. Tell it where sign-in is; Traefik-style ingresses
    // that pass our answer through (?redirect=1) get the redirect itself.
    const origin = new URL(ex.forwardAuthUrl).origin;
    const signin = `${origin}${LOGIN_PATH}?rd=${encodeURIComponent(ex.forwardAuthUrl)}`;
    res.setHeader('x-gatehouse-signin', signin);
    if (ex.forwardAuthRedirect && (ex.browser ?? isBrowserNavigation(ex.req))) {
      sendRedirect(ex, 302, signin);
      return;
    }
  } else if (err.code === 'GH_UNAUTHENTICATED' && res && !res.headersSent && (ex.browser ?? isBrowserNavigation(ex.req))) {
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
    writeHead(ex, r.status, r.headers);
    res.end(ex.req.method === 'HEAD' ? undefined : r.body);
  } catch {
    // The response cannot be written any more: end the connection rather than leave it hanging.
    res.destroy();
  }
}

/**
 * A top-level browser page load, which gets a redirect to sign-in. Anything with credentials of
 * its own (Authorization, Proxy-Authorization), an XHR marker (X-Requested-With), a non-navigation fetch
 * (Sec-Fetch-Mode other than navigate) or a preference for something other than HTML is an API
 * client: 401 JSON, never a redirect it cannot follow. Routes add `api_paths` for the rest.
 */
export function isBrowserNavigation(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h.authorization !== undefined || h['proxy-authorization'] !== undefined || h['x-requested-with'] !== undefined) return false;
  const mode = h['sec-fetch-mode'];
  if (mode !== undefined && mode !== 'navigate') return false;
  return wantsHtml(req);
}

export function sendRedirect(ex: Exchange, status: number, location: string): void {
  writeHead(ex, status, { ...ownHeaders(ex), location, 'content-length': '0' });
  ex.res?.end();
}

/** A page or JSON document Gatehouse produces itself (internal endpoints). */
export function sendBody(ex: Exchange, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  writeHead(ex, status, { ...ownHeaders(ex), 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), ...extra });
  ex.res?.end(ex.req.method === 'HEAD' ? undefined : body);
}

/** Upgrade requests have no ServerResponse: write HTTP/1.1 by hand and close. */
function writeRawResponse(ex: Exchange, r: Rendered): void {
  const socket = ex.socket;
  if (socket.destroyed) return;
  let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\nconnection: close\r\n`;
  for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
  socket.end(`${head}\r\n${r.body}`);
}
