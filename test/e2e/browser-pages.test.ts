// Pages with a way out (issue 17), in a real browser (headless Chromium, as browser-login.test.ts):
// bob is refused with a 403 page that shows the request id and offers "Sign in as someone else";
// following it signs him out (at the IdP too) and back in, as alice, at the same URL. The
// signed-out page links back in.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { chromium, type Page } from 'playwright-core';
import { createWhoamiServer } from '../../src/demo/whoami.ts';
import { startOidcSetup } from '../support/oidc.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function signInAtIdp(page: Page, username: string): Promise<void> {
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', 'demo');
  await page.click('button[type=submit]');
}

describe('pages with a way out', () => {
  it('403 → sign in as someone else → back at the same URL; the signed-out page links back in', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    const whoami = createWhoamiServer();
    await new Promise<void>((r) => whoami.listen(0, '127.0.0.1', r));
    onTestFinished(
      () =>
        new Promise<void>((r) => {
          whoami.closeAllConnections();
          whoami.close(() => r());
        }),
    );
    const upstream = `http://127.0.0.1:${(whoami.address() as AddressInfo).port}`;
    const { gh, idp } = await startOidcSetup(upstream, {
      routes: [
        { name: 'model-registry', path: '/admin', upstream, allow: { groups: ['ml-admins'] } },
        { name: 'app', path: '/', upstream, allow: { authenticated: true } },
      ],
    });
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
      ],
    });
    onTestFinished(() => browser.close());
    const page = await browser.newPage();

    // bob (labelers) signs in at a page only ml-admins may see.
    const target = `${gh.url}/admin/models?sort=name`;
    await page.goto(target);
    await signInAtIdp(page, 'bob');
    await page.waitForURL(target);
    const refused = await page.reload();
    expect(refused?.status()).toBe(403);
    const rid = refused?.headers()['x-request-id'] ?? '';
    expect(rid).not.toBe('');
    expect(await page.textContent('.rid')).toContain(rid);

    // The way out: sign out (confirm), sign out at the IdP too, then sign in again as alice.
    await page.click('text=Sign in as someone else');
    expect(await page.textContent('body')).toContain('Signed in as');
    await page.click('button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(idp.issuer) || u.pathname === '/.gatehouse/logout');
    if (page.url().startsWith(idp.issuer)) await page.click('button[name=logout][value=yes], button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(`${gh.url}/.gatehouse/logout`));
    expect(await page.textContent('h1')).toBe('Signed out');
    await page.click('text=Sign in');
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    await signInAtIdp(page, 'alice');
    await page.waitForURL(target);
    expect(await page.textContent('body')).toContain('alice@example.com');

    // Signed out with nowhere to return to: the page still links in, and to the start page.
    await page.goto(`${gh.url}/.gatehouse/logout`);
    await page.click('button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(idp.issuer) || u.pathname === '/.gatehouse/logout');
    if (page.url().startsWith(idp.issuer)) await page.click('button[name=logout][value=yes], button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(`${gh.url}/.gatehouse/logout`));
    expect(await page.getAttribute('text=Sign in', 'href')).toBe('/.gatehouse/login?rd=%2F');
    expect(await page.getAttribute('text=Go to the start page', 'href')).toBe('/');
  });
});
