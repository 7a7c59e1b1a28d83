// Pages with a way out (issue 17), without a browser: the no-route message names the host as the
// user typed it, port included; the signed-out page links back in and back to where the user was
// (a checked return URL only). The whole 403 → switch account flow runs in Chromium
// (test/e2e/browser-pages.test.ts).
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { getJson } from '../support/http.ts';
import { startUpstream } from '../support/upstream.ts';

describe('pages with a way out', () => {
  it('the no-route message keeps the port; the signed-out page links to sign-in and back', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [{ name: 'only', host: 'a.example', path: '/app', upstream: up.url, allow: { public: true } }],
    });
    const j = await getJson(`${gh.url}/experiments`, { host: 'a.example:4180' });
    expect(j.status).toBe(404);
    expect(j.body.message).toBe('No application is configured at a.example:4180/experiments.');

    const page = async (query: string) => {
      const res = await request(`${gh.url}/.gatehouse/logout${query}`, { headers: { host: 'a.example', accept: 'text/html' } });
      return { status: res.statusCode, html: await res.body.text() };
    };
    const back = await page('?rd=%2Fapp%2Fruns%3Fx%3D1');
    expect(back.status).toBe(200);
    expect(back.html).toContain('<h1>Signed out</h1>');
    expect(back.html).toContain('<a href="/.gatehouse/login?rd=%2Fapp%2Fruns%3Fx%3D1">Sign in</a>');
    expect(back.html).toContain('<a href="/app/runs?x=1">Go back</a>');
    // Another site is no place to go back to.
    const evil = await page('?rd=https%3A%2F%2Fevil.example%2F');
    expect(evil.html).toContain('<a href="/">Go to the start page</a>');
    expect(evil.html).not.toContain('evil.example');
  });
});
