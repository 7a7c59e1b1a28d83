// Shared by the test/tools/ files, which run real ML tools behind Gatehouse exactly as
// config/examples/ ships them: read an example with the reader's own values substituted (host,
// ports, directories), take the tool's command line from the example's `#   $ ` lines, start
// the tool as a child process, sign in through the demo IdP in headless Chromium.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { expect, onTestFinished } from 'vitest';
import { parse } from 'yaml';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request } from 'undici';
import { DEMO_PASSWORD } from '../../src/demo/idp.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** An example file's text with each key replaced by its value (what a user edits). */
export function exampleText(name: string, substitutions: Readonly<Record<string, string>>): string {
  let text = readFileSync(new URL(`../../config/examples/${name}`, import.meta.url), 'utf8');
  for (const [from, to] of Object.entries(substitutions)) {
    if (!text.includes(from)) throw new Error(`${name} no longer mentions ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

/** The `routes:` of a YAML example. */
export function exampleRoutes(text: string): object[] {
  const doc = parse(text) as { routes?: object[] };
  if (!doc.routes) throw new Error('the example has no routes');
  return doc.routes;
}

/**
 * The commands an example documents on lines starting with `#   $ ` (a trailing `\` continues
 * on the next comment line), split into words. Values use no quotes or spaces, so a plain split
 * is the shell's reading too.
 */
export function exampleCommands(text: string): string[][] {
  const out: string[][] = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*#\s+\$ (.*)$/.exec(line);
    const cont = current !== undefined ? /^\s*#\s+(.*)$/.exec(line) : null;
    const part = m ? m[1]! : cont ? cont[1]! : undefined;
    if (part === undefined) continue;
    const joined = `${current ?? ''} ${part.replace(/\\$/, '')}`.trim();
    if (part.endsWith('\\')) current = joined;
    else {
      current = undefined;
      out.push(joined.split(/\s+/));
    }
  }
  return out;
}

/**
 * Start a child process for the rest of the test; its output is kept for the failure message.
 * At the end it gets SIGTERM and `graceMs` to clean up (JupyterHub stops its proxy and the
 * single-user servers, which run in sessions of their own), then its process group SIGKILL.
 */
export function startTool(argv: readonly string[], env: Record<string, string> = {}, cwd?: string, graceMs = 0): { output: () => string } {
  const [cmd, ...args] = argv as [string, ...string[]];
  if (!existsSync(cmd)) throw new Error(`${cmd} not found (.ci/run lists the Debian packages)`);
  let output = '';
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onTestFinished(async () => {
    const pid = child.pid;
    if (pid === undefined) return;
    if (graceMs > 0 && child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
    }
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the whole group is gone already
    }
  }, graceMs + 5000);
  return { output: () => output };
}

/** Wait until `url` answers `status` (the tool is up). */
export async function waitForStatus(url: string, status: number, timeoutMs: number, what: () => string): Promise<void> {
  const answer = () =>
    request(url).then(
      async (r) => {
        await r.body.text();
        return r.statusCode;
      },
      () => 0,
    );
  await expect.poll(answer, { timeout: timeoutMs, interval: 250, message: `no ${status} from ${url}; output:\n${what()}` }).toBe(status);
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  onTestFinished(() => browser.close());
  return browser;
}

/** A fresh browser profile opens `url`, signs in at the demo IdP as `user`, and waits for `landing`. */
export async function signIn(
  browser: Browser,
  issuer: string,
  url: string,
  user: 'alice' | 'bob' | 'carol',
  landing: RegExp | string,
): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  expect(page.url().startsWith(`${issuer}/interaction/`), `sent to the IdP, not ${page.url()}`).toBe(true);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', DEMO_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(landing);
  return page;
}

/** Failed requests and 4xx/5xx responses a page made (static assets, API calls) while `run` ran. */
export async function failuresDuring(page: Page, run: () => Promise<void>, ignore: RegExp = /$^/): Promise<string[]> {
  const failed: string[] = [];
  const onResponse = (r: { status(): number; url(): string }) => {
    if (r.status() >= 400 && !ignore.test(r.url())) failed.push(`${r.status()} ${r.url()}`);
  };
  const onFailed = (r: { url(): string; failure(): { errorText: string } | null }) => {
    if (!ignore.test(r.url())) failed.push(`failed ${r.url()} ${r.failure()?.errorText ?? ''}`);
  };
  page.on('response', onResponse);
  page.on('requestfailed', onFailed);
  try {
    await run();
  } finally {
    page.off('response', onResponse);
    page.off('requestfailed', onFailed);
  }
  return failed;
}

/** End every session of `user` through the admin API (as the security team would). */
export async function revokeUser(adminUrl: string, token: string, user: string): Promise<void> {
  const r = await request(`${adminUrl}/admin/users/${encodeURIComponent(user)}/sessions`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  });
  await r.body.text();
  expect(r.statusCode).toBe(200);
}

interface Jupyter6 {
  notebook: { kernel: { is_connected(): boolean } | null; get_cell(i: number): { set_text(t: string): void; execute(): void } };
}

/** A live WebSocket the page opened, and whether it has closed. */
export interface PageSocket {
  readonly url: string;
  closed: boolean;
}

/**
 * In a Jupyter Notebook 6 UI at `base` (e.g. http://gatehouse/ or .../user/alice/): create a
 * notebook through the contents API (with the UI's XSRF cookie), open it in a new page, wait for
 * the kernel's WebSocket, run print(6*7) through the UI and wait for "42" in the output.
 * Returns the page, its WebSockets and any failed asset or API request.
 */
export async function runInNotebook(from: Page, base: string): Promise<{ page: Page; sockets: PageSocket[]; failures: string[] }> {
  const prefix = new URL(base).pathname.replace(/\/?$/, '/');
  const created = await from.evaluate(async (p) => {
    const xsrf = /(?:^|; )_xsrf=([^;]*)/.exec((globalThis as unknown as { document: { cookie: string } }).document.cookie)?.[1] ?? '';
    const r = await fetch(`${p}api/contents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf) },
      body: JSON.stringify({ type: 'notebook' }),
    });
    return { status: r.status, path: ((await r.json()) as { path: string }).path };
  }, prefix);
  expect(created.status).toBe(201);
  const page = await from.context().newPage();
  const sockets: PageSocket[] = [];
  page.on('websocket', (ws) => {
    const s: PageSocket = { url: ws.url(), closed: false };
    sockets.push(s);
    ws.on('close', () => {
      s.closed = true;
    });
  });
  // custom.js/css and nbextensions are optional files a fresh install does not have (404 is normal).
  const failures = await failuresDuring(
    page,
    async () => {
      await page.goto(`${new URL(base).origin}${prefix}notebooks/${created.path}`, { waitUntil: 'networkidle' });
      await page.waitForFunction(
        () => (globalThis as unknown as { Jupyter?: Jupyter6 }).Jupyter?.notebook?.kernel?.is_connected() === true,
        undefined,
        { timeout: 60_000 },
      );
    },
    /\/(custom\/custom\.(js|css)|nbextensions\/)/,
  );
  await page.evaluate(() => {
    const cell = (globalThis as unknown as { Jupyter: Jupyter6 }).Jupyter.notebook.get_cell(0);
    cell.set_text('print(6*7)');
    cell.execute();
  });
  await page.locator('.output_subarea', { hasText: '42' }).first().waitFor({ timeout: 60_000 });
  return { page, sockets, failures };
}
