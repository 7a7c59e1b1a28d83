// POST /.gatehouse/cli/token — the token endpoint of `gatehouse login` (form or JSON body; errors
// are RFC 6749 §5.2 JSON: { error, error_description }):
//   grant_type=authorization_code  code + code_verifier + redirect_uri → a new CLI session made
//                                  from the approving browser session's identity, a user token
//                                  (user-token.ts) and a refresh token
//   grant_type=refresh_token       refresh_token → a new user token and a new refresh token, while
//                                  the CLI session lives
//   grant_type=urn:ietf:params:oauth:grant-type:device_code  → device.ts (relayed to the IdP)
// Every answer is no-store. Failures are recorded as login_failed with reason cli_<error>.
import { GatehouseError } from '../../errors.ts';
import { readBody } from '../../http/body.ts';
import type { Exchange } from '../../http/exchange.ts';
import { sendBody } from '../../http/respond.ts';
import type { SigningKeys } from '../../identity/keys.ts';
import type { SessionRecord } from '../../identity/session-record.ts';
import type { NewSession, SessionManager } from '../../session/manager.ts';
import { mintUserToken } from '../bearer/user-token.ts';
import { issueRefresh, pkceMatches, redeemCode, redeemRefresh } from './grants.ts';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const BODY_LIMIT = 16 * 1024;

export interface CliTokenDeps {
  readonly sessions: SessionManager;
  readonly keys: SigningKeys;
  /** Issuer of user tokens (server.public_url). */
  readonly issuer: string;
  /** session.user_token_ttl */
  readonly ttlMs: number;
  /** The device-code grant (device.ts): the identity the IdP vouched for, or an OAuth error. */
  readonly deviceGrant?: (params: URLSearchParams) => Promise<NewSession | OAuthError>;
}

/** An RFC 6749 error answer. */
export interface OAuthError {
  readonly error: string;
  readonly description: string;
  readonly status?: number;
}

const failure = (error: string, description: string, status = 400): OAuthError => ({ error, description, status });
const isError = (x: unknown): x is OAuthError => typeof (x as OAuthError).error === 'string';

export async function handleCliToken(ex: Exchange, deps: CliTokenDeps): Promise<void> {
  ex.browser = false;
  if (ex.method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Use POST.');
  const params = await readParams(ex);
  if (isError(params)) return sendOAuthError(ex, params);
  const grant = params.get('grant_type');
  let answer: OAuthError | Issued;
  if (grant === 'authorization_code') answer = await codeGrant(ex, deps, params);
  else if (grant === 'refresh_token') answer = await refreshGrant(ex, deps, params);
  else if (grant === DEVICE_GRANT && deps.deviceGrant) {
    const vouched = await deps.deviceGrant(params);
    answer = isError(vouched) ? vouched : await startCliSession(ex, deps, vouched, 'cli_device');
  } else
    answer = failure(
      'unsupported_grant_type',
      'grant_type must be authorization_code, refresh_token or (where offered) the device_code grant',
    );
  if (isError(answer)) return sendOAuthError(ex, answer);
  sendJson(ex, 200, {
    access_token: answer.token,
    token_type: 'Bearer',
    expires_in: answer.expiresIn,
    refresh_token: answer.refreshToken,
    user: answer.record.user,
  });
}

interface Issued {
  readonly token: string;
  readonly expiresIn: number;
  readonly refreshToken: string;
  readonly record: SessionRecord;
}

async function codeGrant(ex: Exchange, deps: CliTokenDeps, params: URLSearchParams): Promise<OAuthError | Issued> {
  const code = params.get('code') ?? '';
  const verifier = params.get('code_verifier') ?? '';
  const redirectUri = params.get('redirect_uri') ?? '';
  if (!code || !verifier || !redirectUri) return failure('invalid_request', 'code, code_verifier and redirect_uri are required');
  // Taken before any check: a code is spent by its first use, right or wrong (RFC 6749 §4.1.2).
  const grant = await redeemCode(deps.sessions.values, code);
  if (!grant) return failure('invalid_grant', 'the code is unknown, expired or already used');
  if (grant.redirectUri !== redirectUri) return failure('invalid_grant', 'redirect_uri does not match the sign-in');
  if (!pkceMatches(verifier, grant.challenge)) return failure('invalid_grant', 'code_verifier does not match the code_challenge');
  const approving = await deps.sessions.resolve(grant.session);
  if (approving.state !== 'active') return failure('invalid_grant', 'the browser session that approved the sign-in has ended');
  const r = approving.record;
  const input: NewSession = {
    user: r.user,
    email: r.email,
    name: r.name,
    groups: r.groups,
    idp: r.idp,
    method: r.method,
    subject: r.subject,
    idpSession: r.idpSession,
  };
  return startCliSession(ex, deps, input, 'cli');
}

/** A new CLI session for `input` with its first tokens; recorded as login_succeeded. */
async function startCliSession(ex: Exchange, deps: CliTokenDeps, input: NewSession, reason: string): Promise<Issued> {
  const { key, record } = await deps.sessions.create({ ...input, kind: 'cli' });
  ex.event({ action: 'login_succeeded', outcome: 'success', reason, idp: record.idp, session: key, user: record });
  return issue(deps, key, record);
}

async function refreshGrant(ex: Exchange, deps: CliTokenDeps, params: URLSearchParams): Promise<OAuthError | Issued> {
  const token = params.get('refresh_token') ?? '';
  if (!token) return failure('invalid_request', 'refresh_token is required');
  const redeemed = await redeemRefresh(deps.sessions.values, token, deps.sessions.absoluteMs);
  if (redeemed === undefined) return failure('invalid_grant', 'the refresh token is unknown, expired or already used');
  if ('reusedFor' in redeemed) {
    // Used twice: a copy exists somewhere. The session ends, so neither holder keeps access.
    if (await deps.sessions.revoke(redeemed.reusedFor))
      ex.event({ action: 'session_revoked', outcome: 'success', reason: 'refresh_reuse', session: redeemed.reusedFor });
    return failure('invalid_grant', 'the refresh token was already used; the session was ended: run gatehouse login again');
  }
  const key = redeemed.key;
  const found = await deps.sessions.resolve(key);
  if (found.state !== 'active' || found.record.kind !== 'cli')
    return failure('invalid_grant', `the session has ${found.state === 'revoked' ? 'been revoked' : 'ended'}; run gatehouse login again`);
  return issue(deps, key, found.record);
}

async function issue(deps: CliTokenDeps, key: string, record: SessionRecord): Promise<Issued> {
  const now = Date.now();
  const { token, expiresIn } = await mintUserToken(deps.keys, deps.issuer, key, record, deps.ttlMs, now);
  const refreshToken = await issueRefresh(deps.sessions.values, key, record.absoluteExpiresAt - now);
  return { token, expiresIn, refreshToken, record };
}

/** The body as parameters: a form, or a JSON object of strings. */
async function readParams(ex: Exchange): Promise<URLSearchParams | OAuthError> {
  const type = (ex.req.headers['content-type'] ?? '').toLowerCase();
  const body = (await readBody(ex.req, BODY_LIMIT)).toString('utf8');
  if (type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams(body);
  if (type.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return failure('invalid_request', 'the JSON body does not parse');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return failure('invalid_request', 'the JSON body must be an object');
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') params.set(k, v);
    return params;
  }
  return failure('invalid_request', 'send application/x-www-form-urlencoded or application/json');
}

export function sendOAuthError(ex: Exchange, e: OAuthError): void {
  ex.decision = 'error';
  ex.errorCode = 'GH_BAD_REQUEST';
  ex.event({ action: 'login_failed', outcome: 'failure', reason: `cli_${e.error}`, message: e.description });
  sendJson(ex, e.status ?? 400, { error: e.error, error_description: e.description });
}

function sendJson(ex: Exchange, status: number, body: object): void {
  sendBody(ex, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, { pragma: 'no-cache' });
}
