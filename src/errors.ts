// Every error Gatehouse raises on purpose: a stable code, the HTTP status it maps to, and whether
// its message may be shown to the client. Callers branch on `code`, never on message text; what an
// error means beyond its status (the audit event it causes, what a 5xx tells the client) is a
// column of the table below, not an `if` somewhere else.
// docs/errors.md lists the same codes; test/errors.test.ts keeps the two in step.

/** One row of ERROR_CODES. */
export interface ErrorSpec {
  readonly status: number;
  /** Short public title (error pages, JSON has the code). */
  readonly title: string;
  /** The audit event an answered error of this code causes (written with the request record). */
  readonly audit?: { readonly action: 'login_failed' | 'bearer_rejected'; readonly reason: string };
  /** What a 5xx tells the client instead of its message; the real cause stays in the log. */
  readonly publicMessage?: string;
}

/** Codes, their HTTP status and a short public title (shown on error pages). */
export const ERROR_CODES = {
  GH_BAD_PATH: { status: 400, title: 'Bad request path' },
  GH_BAD_REQUEST: { status: 400, title: 'Bad request' },
  GH_BAD_HOST: { status: 400, title: 'Bad host' },
  GH_URI_TOO_LONG: { status: 414, title: 'Address too long' },
  GH_LOGIN_FAILED: { status: 400, title: 'Sign-in failed', audit: { action: 'login_failed', reason: 'login_failed' } },
  GH_BAD_LOGOUT_TOKEN: { status: 400, title: 'Invalid logout token' },
  GH_BAD_SECURITY_EVENT: { status: 400, title: 'Invalid security event' },
  GH_UNAUTHENTICATED: { status: 401, title: 'Sign-in required' },
  GH_BAD_TOKEN: { status: 401, title: 'Invalid token', audit: { action: 'bearer_rejected', reason: 'invalid_token' } },
  GH_FORBIDDEN: { status: 403, title: 'Access denied' },
  GH_BAD_CSRF: { status: 403, title: 'Form expired' },
  GH_NOT_FOUND: { status: 404, title: 'Not found' },
  GH_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  GH_REQUEST_TIMEOUT: { status: 408, title: 'Request too slow' },
  GH_PAYLOAD_TOO_LARGE: { status: 413, title: 'Request too large' },
  GH_TOO_MANY_LOGINS: { status: 429, title: 'Too many sign-ins' },
  GH_TOO_MANY_TOKENS: { status: 429, title: 'Too many tokens' },
  GH_HEADERS_TOO_LARGE: { status: 431, title: 'Identity too large' },
  GH_REQUEST_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  GH_NO_ROUTE: { status: 404, title: 'No route' },
  GH_UPSTREAM_UNREACHABLE: {
    status: 502,
    title: 'Upstream unreachable',
    publicMessage: 'The application behind this address is not reachable right now. Try again in a moment.',
  },
  GH_UPSTREAM_RESET: {
    status: 502,
    title: 'Upstream connection failed',
    publicMessage: 'The connection to the application behind this address failed. Try again in a moment.',
  },
  GH_UPSTREAM_TIMEOUT: {
    status: 504,
    title: 'Upstream timed out',
    publicMessage: 'The application behind this address did not answer in time.',
  },
  GH_UPSTREAM_BUSY: {
    status: 503,
    title: 'Upstream busy',
    publicMessage: 'The application behind this address is busy with other requests. Try again in a moment.',
  },
  GH_SHUTTING_DOWN: { status: 503, title: 'Shutting down', publicMessage: 'Gatehouse is restarting. Try again in a moment.' },
  GH_STORE_UNAVAILABLE: {
    status: 503,
    title: 'Sessions unavailable',
    publicMessage: 'Sign-in sessions are temporarily unavailable, so protected applications are closed for now. Try again in a moment.',
  },
  GH_IDP_UNAVAILABLE: {
    status: 503,
    title: 'Sign-in unavailable',
    publicMessage:
      'The identity provider cannot be reached right now, so signing in is not possible. Try again in a moment; if you are already signed in, nothing changes for you.',
  },
  GH_AUDIT_UNAVAILABLE: {
    status: 503,
    title: 'Audit trail unavailable',
    publicMessage: 'Requests cannot be recorded right now, and this service only serves what it can record. Try again in a moment.',
  },
  GH_INTERNAL: { status: 500, title: 'Internal error' },
  GH_CONFIG_INVALID: { status: 500, title: 'Invalid configuration' },
  GH_RELOAD_FAILED: { status: 422, title: 'Reload refused' },
  GH_ACCOUNT_DISABLED: { status: 403, title: 'Account disabled' },
  GH_RATE_LIMITED: { status: 429, title: 'Too many requests' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The row for `code`, with every optional column visible. */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_CODES[code];
}

/**
 * What the audit record of a refused sign-in or token says beyond the table's action: a stable
 * reason code (docs/audit.md lists them), the IdP, and the user who tried when that is known.
 */
export interface AuditDetail {
  readonly reason?: string | undefined;
  readonly idp?: string | undefined;
  /** The attempted user (a verified claim or NameID, never unverified token text). */
  readonly user?: string | undefined;
  /** The IdP's id for the attempted user (OIDC sub, SAML NameID). */
  readonly subject?: string | undefined;
}

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Whether `message` is safe to show the client; 5xx details stay in the log. */
  readonly expose: boolean;
  readonly audit: AuditDetail | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; audit?: AuditDetail }) {
    super(message, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.expose = this.status < 500;
    this.audit = options?.audit;
  }
}

/** One problem in a config file, named by its key path (e.g. `routes[2].upstream`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A config that cannot be used; carries every problem found, not just the first. */
export class ConfigError extends GatehouseError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super('GH_CONFIG_INVALID', formatProblems(problems));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => (p.path ? `  ${p.path}: ${p.message}` : `  ${p.message}`));
  return `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** 403 with what the 403 page may show: the route and the groups that would grant access. */
export class ForbiddenError extends GatehouseError {
  readonly route: string;
  readonly grantingGroups: readonly string[];

  constructor(route: string, user: string, grantingGroups: readonly string[]) {
    super(
      'GH_FORBIDDEN',
      grantingGroups.length > 0
        ? `You are signed in as ${user}, but ${route} is open only to members of: ${grantingGroups.join(', ')}.`
        : `You are signed in as ${user}, but ${route} does not allow you.`,
    );
    this.name = 'ForbiddenError';
    this.route = route;
    this.grantingGroups = grantingGroups;
  }
}

export function isGatehouseError(err: unknown): err is GatehouseError {
  return err instanceof GatehouseError;
}

/** Anything thrown that is not ours becomes GH_INTERNAL, keeping the original as `cause`. */
export function toGatehouseError(err: unknown): GatehouseError {
  if (err instanceof GatehouseError) return err;
  return new GatehouseError('GH_INTERNAL', 'internal error', { cause: err });
}
