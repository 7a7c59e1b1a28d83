// The request as every later stage judges it: the host (strictly parsed, route/host.ts) and the
// target (normalised path for the upstream, canonical policy path for routing and rules). Used by
// the pipeline for the request itself and by forward-auth for the request an ingress describes,
// so both are judged by exactly the same parse.
import { GatehouseError } from '../errors.ts';
import { policyReadings } from '../route/canonical.ts';
import { parseHost } from '../route/host.ts';
import { normalizePath, splitTarget } from '../route/normalize.ts';
import type { Exchange } from './exchange.ts';

/** Set ex.host / ex.authority from an authority string ("" = none sent, HTTP/1.0). */
export function applyHost(ex: Exchange, authority: string): void {
  if (authority === '') {
    ex.host = '';
    ex.authority = '';
    return;
  }
  const parsed = parseHost(authority);
  if (!parsed.ok) throw new GatehouseError('GH_BAD_HOST', `The request's host was refused: ${parsed.reason}.`);
  ex.host = parsed.host;
  ex.authority = parsed.authority;
}

/** Set ex.path, ex.query, ex.readings, ex.policyPath and ex.encodedEscape from a request target. */
export function applyTarget(ex: Exchange, target: string, maxBytes: number): void {
  if (target.length > maxBytes) throw new GatehouseError('GH_URI_TOO_LONG', `The request address is longer than ${maxBytes} bytes.`);
  const { path, query } = splitTarget(target);
  const result = normalizePath(path);
  if (!result.ok) throw new GatehouseError('GH_BAD_PATH', `The request path was refused: ${result.reason}.`);
  ex.path = result.path;
  ex.query = query;
  ex.readings = policyReadings(result.path);
  ex.policyPath = ex.readings[0]!;
  ex.encodedEscape = result.encodedEscape;
}
