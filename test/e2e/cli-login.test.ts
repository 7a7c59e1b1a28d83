// `gatehouse login` end to end (issue 16): headless Chromium signs in at the demo IdP, the loopback
// listener receives a code, the exchange yields a user token, which reaches a spy upstream through
// either header (with Proxy-Authorization the tool's own Authorization arrives untouched), on a
// second replica too; bad redirect URIs, wrong PKCE verifiers and reused codes are refused; the
// `gatehouse token` command prints and refreshes tokens from a 0600 cache; revoking the user on
// one replica ends the token on the other as soon as the revocation notification arrives.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportPKCS8, generateKeyPair } from 'jose';
import { chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { runLogin } from '../../src/cli/login.ts';
import { tokenCachePath } from '../../src/cli/token-cache.ts';
import { parseRecords, readNdjson } from '../support/audit.ts';
import { CHILD_TEST_TIMEOUT_MS } from '../support/child.ts';
import { startOidcSetup } from '../support/oidc.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startSpyUpstream } from '../support/spy-upstream.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const LAUNCHER = new URL('../../src/cli/launcher.mjs', import.meta.url).pathname;
const ADMIN_TOKEN = 'oidc-test-admin-token';

async function launchPage(): Promise<Page> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
  onTestFinished(() => browser.close());
  return browser.newPage();
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Two replicas sharing Redis, one public_url and one assertion key (as behind a load balancer). */
async function setup() {
  const dir = tempDir();
  const keyFile = join(dir, 'assertion.pem');
  const auditFile = join(dir, 'audit.ndjson');
  writeFileSync(keyFile, await exportPKCS8((await generateKeyPair('ES256', { extractable: true })).privateKey));
  const spy = await startSpyUpstream();
  const s = await startOidcSetup(spy.url, {
    replicas: 1,
    samePublicUrl: true,
    assertion: { key_files: [keyFile] },
    session: { store: 'redis', redis: { url: redisUrl(), key_prefix: uniquePrefix() } },
    audit: { sinks: [{ type: 'file', path: auditFile, fsync: 'always' }] },
  });
  const records = () => parseRecords(existsSync(auditFile) ? readNdjson(auditFile) : []);
  return { ...s, spy, records, second: s.others[0]!, env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'config') } };
}

/** Run `gatehouse login` in-process, with Chromium as the browser; alice signs in. */
async function login(base: string, issuer: string, page: Page, env: NodeJS.ProcessEnv): Promise<number> {
  const done = runLogin(base, { env, say: () => {}, openUrl: (url) => void page.goto(url).catch(() => {}), timeoutMs: 60_000 });
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/interaction/`));
  await page.fill('input[name=username]', 'alice');
  await page.fill('input[name=password]', 'demo');
  await page.click('button[type=submit]');
  // Back at Gatehouse, signed in: the user lets the command in (a CSRF-protected form).
  await page.waitForURL((u) => u.pathname === '/.gatehouse/cli/login');
  expect(await page.textContent('body')).toContain('act as alice@example.com');
  await page.click('#approve');
  const code = await done;
  await page.waitForURL((u) => u.hostname === '127.0.0.1' && u.pathname === '/callback');
  expect(await page.textContent('body')).toContain('Signed in');
  return code;
}

const get = (url: string, headers: Record<string, string>) =>
  request(url, { headers }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));

function gatehouse(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [LAUNCHER, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

async function postToken(base: string, body: Record<string, string>) {
  const r = await request(`${base}/.gatehouse/cli/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
  return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
}

describe('gatehouse login', { timeout: CHILD_TEST_TIMEOUT_MS }, () => {
  it('a browser sign-in hands the loopback listener a code; the user token works through both headers, on both replicas', async () => {
    const { gh, second, idp, spy, env, records } = await setup();
    const page = await launchPage();
    expect(await login(gh.url, idp.issuer, page, env)).toBe(0);

    // The cache: one entry for this base URL, the file 0600 in a 0700 directory.
    const path = tokenCachePath(env);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    const cached = JSON.parse(readFileSync(path, 'utf8'))[gh.url] as { access_token: string; refresh_token: string };
    const token = cached.access_token;
    expect(token.split('.')).toHaveLength(3);

    // Authorization: Bearer (an MLflow-style client), then on the second replica.
    expect((await get(`${gh.url}/runs`, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await get(`${second.url}/runs`, { authorization: `Bearer ${token}` })).status).toBe(200);
    // Proxy-Authorization: Bearer with the tool's own Authorization (a Label-Studio-style SDK).
    const toolAuth = 'Token 0123456789abcdef-tool-key';
    expect((await get(`${gh.url}/api/tasks`, { 'proxy-authorization': `Bearer ${token}`, authorization: toolAuth })).status).toBe(200);
    const seen = await spy.waitForRequests(3);
    for (const r of seen) expect(r.header('x-forwarded-user')).toBe('alice@example.com');
    const tool = seen.find((r) => r.target === '/api/tasks')!;
    expect(tool.headerAll('authorization')).toEqual([toolAuth]);
    expect(tool.raw.includes(Buffer.from(`\r\nauthorization: ${toolAuth}\r\n`, 'latin1'))).toBe(true);
    expect(tool.header('proxy-authorization')).toBeUndefined();

    // Who am I, as the token sees it: the CLI session, a user token.
    const me = JSON.parse((await get(`${gh.url}/.gatehouse/userinfo`, { authorization: `Bearer ${token}` })).body);
    expect(me).toMatchObject({ user: 'alice@example.com', idp: 'corp' });
    // A token that is not ours, and a tampered one, are refused.
    const [h, p] = token.split('.');
    expect((await get(`${gh.url}/runs`, { authorization: `Bearer ${h}.${p}.AAAA` })).status).toBe(401);

    // The audit trail names the credential kind and the CLI session it stands for.
    await vi.waitFor(() => expect(records().some((r) => r.url?.path === '/api/tasks')).toBe(true), { timeout: 10_000 });
    const used = records().find((r) => r.url?.path === '/api/tasks')!;
    expect(used.gatehouse).toMatchObject({ auth_method: 'bearer', credential_kind: 'user_token', decision: 'allow' });
    expect(used.gatehouse.session).toMatch(/\S/);
    const signedIn = records().filter((r) => r.event?.action === 'login_succeeded' && r.event.reason === 'cli');
    expect(signedIn.map((r) => r.gatehouse.session)).toEqual([used.gatehouse.session]);
  });

  it('refuses non-loopback redirect URIs, a wrong code_verifier and a reused code', async () => {
    const { gh, idp, env, records } = await setup();
    const page = await launchPage();
    expect(await login(gh.url, idp.issuer, page, env)).toBe(0);
    const start = (redirectUri: string, challenge: string) =>
      `${gh.url}/.gatehouse/cli/login?${new URLSearchParams({ redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', state: 'st-1' })}`;

    const { verifier, challenge } = pkce();
    for (const bad of [
      'http://evil.example:8080/callback',
      'http://localhost:8080/callback',
      'https://127.0.0.1:8080/callback',
      'http://127.0.0.1.evil.example/callback',
      'http://127.0.0.1:8080@evil.example/callback',
      'http://127.1:8080/callback',
    ]) {
      const r = await page.goto(start(bad, challenge));
      expect(r?.status(), bad).toBe(400);
      expect(await page.textContent('body')).toContain('redirect_uri must be');
    }
    // Each refusal is audited: the request (400) and a login_failed event.
    await vi.waitFor(
      () => expect(records().filter((r) => r.event?.action === 'login_failed' && r.event.reason === 'cli_bad_request')).toHaveLength(6),
      { timeout: 10_000 },
    );
    expect(records().filter((r) => r.url?.path === '/.gatehouse/cli/login' && r.http?.response?.status_code === 400)).toHaveLength(6);
    // No PKCE: refused too.
    const noPkce = await page.request.get(`${gh.url}/.gatehouse/cli/login?redirect_uri=http://127.0.0.1:9/cb&state=x`, { maxRedirects: 0 });
    expect(noPkce.status()).toBe(400);

    // The signed-in browser's request context: the consent form, then the code in the Location header.
    const form = (redirectUri: string, ch: string) => ({
      redirect_uri: redirectUri,
      code_challenge: ch,
      code_challenge_method: 'S256',
      state: 'st-1',
    });
    const codeFor = async (redirectUri: string, ch: string) => {
      const consent = await page.request.get(start(redirectUri, ch), { maxRedirects: 0 });
      expect(consent.status()).toBe(200);
      const csrf = /name="csrf" value="([^"]+)"/.exec(await consent.text())![1]!;
      const r = await page.request.post(`${gh.url}/.gatehouse/cli/login`, { form: { ...form(redirectUri, ch), csrf }, maxRedirects: 0 });
      expect(r.status()).toBe(303);
      const location = new URL(r.headers().location!);
      expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
      expect(location.searchParams.get('state')).toBe('st-1');
      return location.searchParams.get('code')!;
    };
    const redirectUri = 'http://[::1]:53682/callback';
    // Approval needs the form's CSRF token: a cross-site POST (or one without it) gets no code.
    const forged = await page.request.post(`${gh.url}/.gatehouse/cli/login`, {
      form: { ...form(redirectUri, challenge), csrf: 'x' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    const code = await codeFor(redirectUri, challenge);
    const wrong = await postToken(gh.url, {
      grant_type: 'authorization_code',
      code,
      code_verifier: pkce().verifier,
      redirect_uri: redirectUri,
    });
    expect(wrong).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The wrong attempt spent the code.
    const after = await postToken(gh.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri });
    expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const code2 = await codeFor(redirectUri, challenge);
    const otherUri = await postToken(gh.url, {
      grant_type: 'authorization_code',
      code: code2,
      code_verifier: verifier,
      redirect_uri: 'http://[::1]:53683/callback',
    });
    expect(otherUri).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const code3 = await codeFor(redirectUri, challenge);
    const ok = await postToken(gh.url, {
      grant_type: 'authorization_code',
      code: code3,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', expires_in: 600, user: 'alice@example.com' });
    const reused = await postToken(gh.url, {
      grant_type: 'authorization_code',
      code: code3,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    });
    expect(reused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await postToken(gh.url, { grant_type: 'password' })).body.error).toBe('unsupported_grant_type');

    // Refresh rotates; a refresh token presented twice was copied: the CLI session ends.
    const first = String(ok.body.refresh_token);
    const rotated = await postToken(gh.url, { grant_type: 'refresh_token', refresh_token: first });
    expect(rotated.status).toBe(200);
    const access = String(rotated.body.access_token);
    expect((await get(`${gh.url}/runs`, { authorization: `Bearer ${access}` })).status).toBe(200);
    const replay = await postToken(gh.url, { grant_type: 'refresh_token', refresh_token: first });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(String(replay.body.error_description)).toContain('already used');
    expect((await get(`${gh.url}/runs`, { authorization: `Bearer ${access}` })).status).toBe(401);
    const next = await postToken(gh.url, { grant_type: 'refresh_token', refresh_token: String(rotated.body.refresh_token) });
    expect(next).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('gatehouse token prints the cached token, refreshes an expired one; revoking the user on one replica ends it on the other', async () => {
    const { gh, second, idp, env, records } = await setup();
    const page = await launchPage();
    expect(await login(gh.url, idp.issuer, page, env)).toBe(0);
    const path = tokenCachePath(env);
    const cache = () =>
      JSON.parse(readFileSync(path, 'utf8'))[gh.url] as { access_token: string; refresh_token: string; expires_at: number };

    const printed = await gatehouse(['token', gh.url], env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toBe(`${cache().access_token}\n`);

    // Expired in the cache: a new token from the refresh token, which works.
    const before = cache();
    writeFileSync(path, JSON.stringify({ [gh.url]: { ...before, expires_at: Date.now() - 1000 } }), { mode: 0o600 });
    const refreshed = await gatehouse(['token', gh.url], env);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    const fresh = refreshed.stdout.trim();
    expect(fresh).not.toBe(before.access_token);
    expect(cache()).toMatchObject({ access_token: fresh });
    expect(cache().refresh_token).not.toBe(before.refresh_token);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await get(`${second.url}/runs`, { authorization: `Bearer ${fresh}` })).status).toBe(200);
    // Parallel runs with an expired token refresh once and print the same new token.
    writeFileSync(path, JSON.stringify({ [gh.url]: { ...cache(), expires_at: 0 } }), { mode: 0o600 });
    const parallel = await Promise.all([1, 2, 3].map(() => gatehouse(['token', gh.url], env)));
    for (const r of parallel) expect(r.code, r.stderr).toBe(0);
    expect(new Set(parallel.map((r) => r.stdout)).size).toBe(1);
    expect(parallel[0]!.stdout.trim()).toBe(cache().access_token);
    expect(existsSync(`${path}.lock`)).toBe(false);

    // Revoke alice on the first replica's admin API; the second hears of it and refuses the token.
    const heard = new Promise<void>((resolve) => second.current().sessions.store.onRevoked((keys) => keys && keys.length > 0 && resolve()));
    const del = await request(`${gh.adminUrl}/admin/users/${encodeURIComponent('alice@example.com')}/sessions`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(await del.body.json()).toMatchObject({ revoked: 2 });
    // Within 1 s: at once when the notification arrives, and by the cache's 1 s bound if it were lost.
    await Promise.race([heard, new Promise((r) => setTimeout(r, 1000).unref())]);
    const refused = await get(`${second.url}/runs`, { authorization: `Bearer ${fresh}` });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'GH_BAD_TOKEN' });
    expect((await get(`${gh.url}/runs`, { authorization: `Bearer ${fresh}` })).status).toBe(401);
    await vi.waitFor(
      () => expect(records().some((r) => r.event?.action === 'bearer_rejected' && r.event.reason === 'session_ended')).toBe(true),
      { timeout: 10_000 },
    );
    // The refresh token dies with the session; `gatehouse token` then says so in one line.
    writeFileSync(path, JSON.stringify({ [gh.url]: { ...cache(), expires_at: 0 } }), { mode: 0o600 });
    const ended = await gatehouse(['token', gh.url], env);
    expect(ended.code).toBe(1);
    expect(ended.stdout).toBe('');
    expect(ended.stderr.trim().split('\n')).toHaveLength(1);
    expect(ended.stderr).toContain('revoked');

    const none = await gatehouse(['token', 'https://other.example'], env);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toMatch(/^gatehouse: not logged in to https:\/\/other\.example: run "gatehouse login https:\/\/other\.example"\n$/);
  });

  it('gatehouse login --device: the device flow of the IdP, relayed by Gatehouse', async () => {
    const { gh, idp, spy, env } = await setup();
    const page = await launchPage();
    let shown: (url: string) => void = () => {};
    const verification = new Promise<string>((r) => (shown = r));
    const say = (line: string) => {
      const m = /open (\S+) and enter the code/.exec(line);
      if (m) shown(m[1]!);
    };
    const done = runLogin(gh.url, { device: true, env, say, timeoutMs: 60_000 });
    const url = await verification;
    expect(url.startsWith(`${idp.issuer}/`)).toBe(true);
    await page.goto(url);
    // The IdP's pages in whatever order it shows them: code, confirmation, login; bounded.
    for (let step = 0; step < 8; step++) {
      const body = (await page.textContent('body')) ?? '';
      if (body.includes('The device is signed in')) break;
      if (await page.$('input[name=username]')) {
        await page.fill('input[name=username]', 'alice');
        await page.fill('input[name=password]', 'demo');
        await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
      } else if (await page.$('#confirm')) await Promise.all([page.waitForNavigation(), page.click('#confirm')]);
      else await Promise.all([page.waitForNavigation(), page.click('button[form="op.deviceInputForm"]')]);
    }
    expect(await page.textContent('body')).toContain('The device is signed in');
    expect(await done).toBe(0);
    const token = (JSON.parse(readFileSync(tokenCachePath(env), 'utf8'))[gh.url] as { access_token: string }).access_token;
    expect((await get(`${gh.url}/runs`, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await spy.waitForRequests(1))[0]!.header('x-forwarded-user')).toBe('alice@example.com');
  });

  it('the device relay answers unsupported_grant_type where the IdP has no device flow', async () => {
    const spy = await startSpyUpstream();
    const { gh } = await startOidcSetup(spy.url, { idp: { deviceFlow: false } });
    const r = await request(`${gh.url}/.gatehouse/cli/device`, { method: 'POST' });
    expect(r.statusCode).toBe(400);
    expect(await r.body.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });
});
