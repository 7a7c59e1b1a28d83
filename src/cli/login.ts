// `gatehouse login <base-url>` and `gatehouse token <base-url>`: the client half of the CLI sign-in
// (server half: auth/cli/). login runs an RFC 8252 loopback sign-in like `gcloud auth login`: a
// listener on 127.0.0.1 (random port), a PKCE verifier and a state, the browser sent to
// /.gatehouse/cli/login (opened with xdg-open/open when there is one, else the URL is printed),
// the code it brings back exchanged at /.gatehouse/cli/token; `--device` asks for the IdP's
// device flow instead (RFC 8628) where Gatehouse relays one. Tokens are cached per base URL
// (token-cache.ts). token prints a current user token on stdout, refreshing it when it is due.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { normalizeBaseUrl, readTokens, withCacheLock, writeTokens, type CachedTokens } from './token-cache.ts';

/** Refresh when less than this is left of a user token. */
const REFRESH_MARGIN_MS = 60_000;
const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

export interface LoginOptions {
  readonly device?: boolean;
  readonly noBrowser?: boolean;
  /** Where the sign-in URL goes (tests drive a browser with it); default: open a browser or print. */
  readonly openUrl?: (url: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Progress messages (default stderr): stdout stays clean for scripts. */
  readonly say?: (line: string) => void;
}

/** The token endpoint's answer. */
interface TokenAnswer {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
  readonly user?: string;
}

/** A failure worth one line to the user (exit 1). */
export class CliLoginError extends Error {}

export async function runLogin(baseInput: string, o: LoginOptions = {}): Promise<number> {
  const say = o.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  let base: string;
  try {
    base = normalizeBaseUrl(baseInput);
  } catch (err) {
    say(`gatehouse: ${(err as Error).message}`);
    return 2;
  }
  try {
    let answer: TokenAnswer | undefined;
    if (o.device) {
      const { deviceLogin } = await import('./device-login.ts');
      answer = await deviceLogin(base, postToken, say);
      if (!answer) say('The identity provider offers no device sign-in here; using the browser sign-in instead.');
    }
    answer ??= await loopbackLogin(base, o, say);
    save(base, answer, o.env);
    say(`Signed in to ${base}${answer.user ? ` as ${answer.user}` : ''}. "gatehouse token ${base}" prints a token.`);
    return 0;
  } catch (err) {
    say(`gatehouse: ${(err as Error).message}`);
    return 1;
  }
}

/** Print a current token for `base` (refreshed when due); exit 1 with one line when there is none. */
export async function runToken(baseInput: string, o: { env?: NodeJS.ProcessEnv; now?: () => number } = {}): Promise<number> {
  const now = o.now ?? Date.now;
  try {
    const base = normalizeBaseUrl(baseInput);
    const cached = readTokens(base, o.env);
    if (!cached) throw new CliLoginError(`not logged in to ${base}: run "gatehouse login ${base}"`);
    let token = cached.access_token;
    if (cached.expires_at - now() < REFRESH_MARGIN_MS)
      token = await withCacheLock(o.env, async () => {
        // Another run may have refreshed while this one waited for the lock.
        const current = readTokens(base, o.env) ?? cached;
        return current.expires_at - now() < REFRESH_MARGIN_MS ? refresh(base, current, o.env) : current.access_token;
      });
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\n`);
    return 1;
  }
}

async function refresh(base: string, cached: CachedTokens, env: NodeJS.ProcessEnv | undefined): Promise<string> {
  const answer = await postToken(base, { grant_type: 'refresh_token', refresh_token: cached.refresh_token });
  save(base, answer, env);
  return answer.access_token;
}

function save(base: string, a: TokenAnswer, env: NodeJS.ProcessEnv | undefined): void {
  writeTokens(
    base,
    { access_token: a.access_token, refresh_token: a.refresh_token, expires_at: Date.now() + a.expires_in * 1000, user: a.user },
    env,
  );
}

/** POST to the token endpoint; the answer, or a CliLoginError with the server's error_description. */
export async function postToken(base: string, body: Record<string, string>): Promise<TokenAnswer> {
  let res;
  try {
    res = await request(`${base}/.gatehouse/cli/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new CliLoginError(`cannot reach ${base}: ${(err as Error).message}`);
  }
  const text = await res.body.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: reported below by status
  }
  if (res.statusCode === 200 && typeof parsed.access_token === 'string') return parsed as unknown as TokenAnswer;
  const why = typeof parsed.error_description === 'string' ? parsed.error_description : `HTTP ${res.statusCode}`;
  const err = new CliLoginError(`${base} refused the token request: ${why}`);
  (err as { oauthError?: unknown }).oauthError = parsed.error;
  throw err;
}

/** The loopback sign-in: resolves with the tokens once the browser came back with a code. */
async function loopbackLogin(base: string, o: LoginOptions, say: (line: string) => void): Promise<TokenAnswer> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  let settle: (r: { code: string } | Error) => void = () => {};
  const arrived = new Promise<{ code: string } | Error>((r) => (settle = r));
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    const code = u.searchParams.get('code');
    const ok = u.searchParams.get('state') === state && code !== null;
    res.writeHead(ok ? 200 : 400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
    res.end(ok ? PAGE_DONE : PAGE_FAILED);
    settle(ok ? { code } : new CliLoginError('the browser came back without a valid sign-in (state mismatch); try again'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const url = `${base}/.gatehouse/cli/login?${new URLSearchParams({
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  })}`;
  const timer = setTimeout(
    () => settle(new CliLoginError('no sign-in arrived in time; run gatehouse login again')),
    o.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS,
  );
  try {
    if (o.openUrl) o.openUrl(url);
    else {
      say(`Sign in through your browser; if it does not open, visit:\n  ${url}`);
      if (!o.noBrowser) openBrowser(url);
    }
    const result = await arrived;
    if (result instanceof Error) throw result;
    return await postToken(base, {
      grant_type: 'authorization_code',
      code: result.code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    });
  } finally {
    clearTimeout(timer);
    await closeServer(server);
  }
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/** xdg-open (Linux) or open (macOS), detached; silently nothing when neither exists (the URL is printed). */
function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // printed above
  }
}

const PAGE_DONE = '<!doctype html><title>Signed in</title><p>Signed in. You can close this tab and return to the terminal.</p>\n';
const PAGE_FAILED = '<!doctype html><title>Sign-in failed</title><p>This sign-in could not be completed. Run gatehouse login again.</p>\n';
