// The request as every later stage judges it: the host (strictly parsed, route/host.ts) and the
// target (normalised path for the upstream, canonical policy path for routing and rules). Used by
// the pipeline for the request itself and by forward-auth for the request an ingress describes,
// so both are judged by exactly the same parse.
import { GatehouseError } from '../errors.ts';
import { policyReadings } from '../route/canonical.ts';
import { parseRequestHost } from '../route/host.ts';
import { normalizePath, splitTarget } from '../uri/normalize.ts';
import type { IncomingMessage } from 'node:http';
import type { Exchange } from '../http/exchange.ts';

/**
 * Framing Node's parser lets through but RFC 9112 does not: several Host fields (§3.2: 400), and
 * Transfer-Encoding in an HTTP/1.0 request (§6.1: faulty framing, the connection must close —
 * a keep-alive 1.0 client could otherwise smuggle a second request behind a chunked body).
 * Returns what is wrong, or undefined.
 */
export function faultyHead(req: IncomingMessage): { code: 'GH_BAD_HOST' | 'GH_BAD_REQUEST'; message: string } | undefined {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined) {
    return { code: 'GH_BAD_REQUEST', message: 'An HTTP/1.0 request cannot use Transfer-Encoding.' };
  }
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1)
      return { code: 'GH_BAD_HOST', message: 'The request has more than one Host header.' };
  }
  return undefined;
}

/** Set ex.host / ex.authority from an authority string ("" = none sent, HTTP/1.0). */
export function applyHost(ex: Exchange, authority: string): void {
  if (authority === '') {
    ex.host = '';
    ex.authority = '';
    return;
  }
  const parsed = parseRequestHost(authority);
  if (!parsed.ok) throw new GatehouseError('GH_BAD_HOST', `The request's host was refused: ${parsed.reason}.`);
  ex.host = parsed.host;
  ex.authority = parsed.authority;
}

/** Set ex.path, ex.query, ex.readings, ex.policyPath and ex.encodedEscape from a request target. */
export function applyTarget(ex: Exchange, target: string, maxBytes: number): void {
  if (target.length > maxBytes) throw new GatehouseError('GH_URI_TOO_LONG', `The request address is longer than ${maxBytes} bytes.`);
  // A fragment is never part of a request target (RFC 9112 §3.2); Node would pass "#" on.
  if (target.includes('#'))
    throw new GatehouseError('GH_BAD_PATH', 'The request path was refused: a request target has no fragment ("#").');
  const { path, query } = splitTarget(target);
  const result = normalizePath(path);
  if (!result.ok) throw new GatehouseError('GH_BAD_PATH', `The request path was refused: ${result.reason}.`);
  ex.path = result.path;
  ex.query = query;
  ex.readings = policyReadings(result.path);
  ex.policyPath = ex.readings[0]!;
  ex.encodedEscape = result.encodedEscape;
}
