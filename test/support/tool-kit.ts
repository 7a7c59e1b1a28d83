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

/** Start a child process for the rest of the test; its output is kept for the failure message. */
export function startTool(argv: readonly string[], env: Record<string, string> = {}, cwd?: string): { output: () => string; pid: number } {
  const [cmd, ...args] = argv as [string, ...string[]];
  if (!existsSync(cmd) && !cmd.includes('/')) {
    // Resolved through PATH by spawn; nothing to check here.
  } else if (!existsSync(cmd)) throw new Error(`${cmd} not found (see .ci/run for the Debian packages)`);
  let output = '';
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const keep = (b: Buffer) => { output = (output + b.toString()).slice(-20_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // The process group: JupyterHub's proxy and single-user servers go with it.
  onTestFinished(() => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return { output: () => output, pid: child.pid ?? 0 };
}

/** Wait until `url` answers `status` (the tool is up). */
export async function waitForStatus(url: string, status: number, timeoutMs: number, what: () => string): Promise<void> {
  const answer = () => request(url).then(async (r) => { await r.body.text(); return r.statusCode; }, () => 0);
  await expect.poll(answer, { timeout: timeoutMs, interval: 250, message: `no ${status} from ${url}; output:\n${what()}` }).toBe(status);
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  onTestFinished(() => browser.close());
  return browser;
}

/** A fresh browser profile opens `url`, signs in at the demo IdP as `user`, and waits for `landing`. */
export async function signIn(browser: Browser, issuer: string, url: string, user: 'alice' | 'bob' | 'carol', landing: RegExp | string): Promise<Page> {
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
  const onResponse = (r: { status(): number; url(): string }) => { if (r.status() >= 400 && !ignore.test(r.url())) failed.push(`${r.status()} ${r.url()}`); };
  const onFailed = (r: { url(): string; failure(): { errorText: string } | null }) => { if (!ignore.test(r.url())) failed.push(`failed ${r.url()} ${r.failure()?.errorText ?? ''}`); };
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
  const r = await request(`${adminUrl}/admin/users/${encodeURIComponent(user)}/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  await r.body.text();
  expect(r.statusCode).toBe(200);
}
