// How the admin listener answers: one head writer (content type, length, no-store, request id), JSON
// documents, and GatehouseErrors rendered from ERROR_CODES in the same JSON shape the public
// listener gives API clients ({ error, message, status, request_id }). Admin handlers throw
// GatehouseError; only this file turns one into bytes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_CODES, GatehouseError, type ErrorCode } from '../errors.ts';
import { REQUEST_ID_HEADER } from '../http/endpoints.ts';
import { requestIdFor } from '../http/request-id.ts';

/** One admin request: what every answer needs. */
export interface AdminExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** A fresh id per request (admin callers are never a trusted proxy): in the head and in errors. */
  readonly id: string;
}

export function adminExchange(req: IncomingMessage, res: ServerResponse): AdminExchange {
  return { req, res, id: requestIdFor(undefined, false) };
}

/** A GatehouseError whose answer needs a header: Allow on a 405, WWW-Authenticate on a 401. */
export class AdminError extends GatehouseError {
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string>) {
    super(code, message);
    this.name = 'AdminError';
    this.headers = headers;
  }
}

/** 405 for a known admin path called with another method. */
export function methodNotAllowed(allow: string): AdminError {
  return new AdminError('GH_METHOD_NOT_ALLOWED', `use ${allow}`, { allow });
}

/** The one place admin responses get their head. `extra` adds headers such as Allow. */
export function sendAdmin(ax: AdminExchange, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  ax.res.writeHead(status, {
    'content-type': contentType,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    [REQUEST_ID_HEADER]: ax.id,
    ...extra,
  });
  ax.res.end(body);
}

export function sendJson(ax: AdminExchange, status: number, body: unknown, extra?: Record<string, string>): void {
  sendAdmin(ax, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, extra);
}

/**
 * Answer with `err`: its code, status and title from ERROR_CODES; its message only when it may be
 * shown (below 500), otherwise the title. A response already under way is cut instead.
 */
export function sendJsonError(ax: AdminExchange, err: GatehouseError): void {
  if (ax.res.headersSent) {
    ax.res.destroy();
    return;
  }
  const message = err.expose ? err.message : ERROR_CODES[err.code].title;
  sendJson(
    ax,
    err.status,
    { error: err.code, message, status: err.status, request_id: ax.id },
    err instanceof AdminError ? err.headers : undefined,
  );
}
