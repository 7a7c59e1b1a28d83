// Translate undici / socket errors from the upstream into Gatehouse errors (502 or 504), keeping
// the original as `cause` for the log. Nothing above proxy/ looks at undici's error types.
import { GatehouseError } from '../errors.ts';

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export function upstreamError(err: unknown, routeName: string): GatehouseError {
  const code = errorCode(err);
  if (code && TIMEOUT_CODES.has(code)) {
    return new GatehouseError('GH_UPSTREAM_TIMEOUT', `upstream of route ${routeName} timed out (${code})`, { cause: err });
  }
  if (code && UNREACHABLE_CODES.has(code)) {
    return new GatehouseError('GH_UPSTREAM_UNREACHABLE', `upstream of route ${routeName} unreachable (${code})`, { cause: err });
  }
  return new GatehouseError('GH_UPSTREAM_RESET', `upstream of route ${routeName} failed (${code ?? 'error'})`, { cause: err });
}

/** undici wraps socket errors; the errno code may sit on the error or on its cause. */
function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 3 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    e = (e as { cause?: unknown }).cause;
  }
  const top = (err as { code?: unknown } | undefined)?.code;
  return typeof top === 'string' ? top : undefined;
}
