// The whole sign-in in a real browser: headless Chromium (Debian `chromium`, driven by
// playwright-core) opens a protected URL, is sent to the demo IdP, fills its login form, lands on
// the whoami upstream, and reads alice's identity at /.gatehouse/userinfo.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { chromium } from 'playwright-core';
import { createWhoamiServer } from '../../src/demo/whoami.ts';
import { startOidcSetup } from '../support/oidc.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('browser sign-in', () => {
  it('alice signs in through the IdP login form and lands on the whoami page', async () => {
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
    const { gh, idp } = await startOidcSetup(`http://127.0.0.1:${(whoami.address() as AddressInfo).port}`);

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

    await page.goto(`${gh.url}/experiments?view=table`);
    expect(page.url().startsWith(`${idp.issuer}/interaction/`)).toBe(true);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=password]', 'demo');
    await page.click('button[type=submit]');
    await page.waitForURL(`${gh.url}/experiments?view=table`);
    const text = await page.textContent('body');
    expect(text).toContain('whoami');
    expect(text).toContain('alice@example.com');
    expect(text).toContain('ml-admins,data-scientists');

    const cookies = await page.context().cookies(gh.url);
    const session = cookies.find((c) => c.name === 'gatehouse');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Lax');

    await page.goto(`${gh.url}/.gatehouse/userinfo`);
    const me = JSON.parse((await page.textContent('body')) ?? '{}');
    expect(me).toMatchObject({ user: 'alice@example.com', groups: ['ml-admins', 'data-scientists'], idp: 'corp' });
  });
});
