// Debian's Prometheus 2.42 at a sub-path behind Gatehouse, started and routed exactly as
// config/examples/gatehouse/routes/prometheus.yaml says (host, ports and paths substituted as a user would), and
// again as prometheus-strip-prefix.yaml says: Prometheus at "/", Gatehouse's strip_prefix.
// Only the sub-path is routed, so this is also the sub-path-only deployment: sign-in, callback and
// logout under /.gatehouse/ must answer although no route covers them. Checked as alice
// (ml-admins: the UI, its static files and API calls work in headless Chromium), bob (403 page
// and JSON), and an anonymous client (public liveness 200, API 401 JSON, forged identity
// headers change nothing); revoking alice's sessions ends her access at the next request.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startOidcSetup } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import {
  exampleCommands,
  exampleRoutes,
  exampleText,
  failuresDuring,
  launchChromium,
  revokeUser,
  signIn,
  startTool,
  waitForStatus,
} from '../support/tool-kit.ts';

const FORGED = {
  'x-forwarded-user': 'alice@example.com',
  'x-forwarded-email': 'alice@example.com',
  'x-forwarded-groups': 'ml-admins',
  'x-gatehouse-assertion': 'forged.jwt.value',
  'x-forwarded-preferred-username': 'alice',
  'remote-user': 'alice',
};

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: string; location: string }> {
  const r = await request(url, { headers });
  const body = await r.body.text();
  return { status: r.statusCode, type: String(r.headers['content-type'] ?? ''), body, location: String(r.headers.location ?? '') };
}

/** The whole check against one example: `prefix` is the route's path ("/prometheus"). */
async function checkExample(example: string, prefix: string, servedAt: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prometheus-'));
  const promPort = await freePort();
  const values = { 'ops.corp.example': '127.0.0.1', '127.0.0.1:9090': `127.0.0.1:${promPort}` };
  const { gh, idp } = await startOidcSetup('', { routes: exampleRoutes(exampleText(example, values)) });

  // The command line from the example, with this machine's paths and Gatehouse's address.
  writeFileSync(join(dir, 'prometheus.yml'), 'global: { scrape_interval: 1m }\nscrape_configs: []\n');
  const text = exampleText(example, {
    'https://ops.corp.example': gh.url,
    ...values,
    '/etc/prometheus/prometheus.yml': join(dir, 'prometheus.yml'),
    '/var/lib/prometheus/metrics2': join(dir, 'data'),
  });
  const [command] = exampleCommands(text);
  expect(command?.[0]).toBe('/usr/bin/prometheus');
  const prom = startTool(command!, {}, undefined, 5_000);
  await waitForStatus(`http://127.0.0.1:${promPort}${servedAt}/-/ready`, 200, 60_000, prom.output);

  // Anonymous: liveness is public, the API answers 401 JSON, the UI sends a browser to sign in.
  expect((await get(`${gh.url}${prefix}/-/healthy`)).status).toBe(200);
  const api = await get(`${gh.url}${prefix}/api/v1/query?query=vector(42)`);
  expect(api.status).toBe(401);
  expect(api.type).toContain('application/json');
  // Forged identity headers change nothing.
  expect((await get(`${gh.url}${prefix}/api/v1/query?query=vector(42)`, FORGED)).status).toBe(401);
  const ui = await get(`${gh.url}${prefix}/graph`, { accept: 'text/html' });
  expect(ui.status).toBe(302);
  // Sub-path-only: Gatehouse's own sign-in answers although only /prometheus is routed.
  const login = await get(`${gh.url}/.gatehouse/login?rd=${encodeURIComponent(`${prefix}/graph`)}`, { accept: 'text/html' });
  expect(login.status).toBe(302);
  expect(login.location.startsWith(idp.issuer)).toBe(true);
  expect((await get(`${gh.url}/nothing-here`)).status).toBe(404);

  const browser = await launchChromium();
  // alice lands in the UI (Prometheus redirects to its classic graph page) with every asset loaded.
  const signedIn = await signIn(browser, idp.issuer, `${gh.url}${prefix}/graph`, 'alice', new RegExp(`${prefix}/(classic/)?graph`));
  const alice = await signedIn.context().newPage();
  const assetFailures = await failuresDuring(alice, async () => {
    await alice.goto(`${gh.url}${prefix}/graph`, { waitUntil: 'networkidle' });
  });
  expect(assetFailures).toEqual([]);
  expect(await alice.title()).toContain('Prometheus');
  // The page's own scripts loaded (jQuery from ${prefix}/classic/static) and the API answers its fetches.
  expect(await alice.evaluate(() => typeof (globalThis as { $?: unknown }).$)).toBe('function');
  const result = await alice.evaluate(async (p) => {
    const r = await fetch(`${p}/api/v1/query?query=vector(42)`);
    return { status: r.status, body: (await r.json()) as { data: { result: { value: [number, string] }[] } } };
  }, prefix);
  expect(result.status).toBe(200);
  expect(result.body.data.result[0]?.value[1]).toBe('42');
  // The UI's own query form, end to end.
  await alice.fill('textarea[name=expr], input[name=expr], #expr0', 'vector(42)');
  await alice.click('input.execute_btn, button.execute_btn, input[value=Execute]');
  await alice.locator('text=42').first().waitFor();

  // Sign-out from the tool's host: Gatehouse's logout page answers there too.
  const logout = await alice.evaluate(async () => (await fetch('/.gatehouse/logout')).status);
  expect(logout).toBe(200);

  // bob (labelers) is not in ml-admins: the 403 page, and 403 JSON for the API.
  const bob = await signIn(browser, idp.issuer, `${gh.url}${prefix}/graph`, 'bob', `${gh.url}${prefix}/graph`);
  expect(await bob.textContent('body')).toContain('ml-admins');
  expect(await bob.title()).toContain('403');
  // (From the browser's cookie jar: the 403 page's CSP allows no fetch.)
  const bobResponse = await bob.context().request.get(`${gh.url}${prefix}/api/v1/query?query=vector(42)`, {
    headers: { 'X-Forwarded-Groups': 'ml-admins', 'X-Forwarded-User': 'alice@example.com' },
  });
  const bobApi = { status: bobResponse.status(), type: bobResponse.headers()['content-type'] };
  expect(bobApi).toEqual({ status: 403, type: expect.stringContaining('application/json') });

  // Revoked: alice's next call is refused.
  await revokeUser(gh.adminUrl, 'oidc-test-admin-token', 'alice@example.com');
  const after = await alice.evaluate(async (p) => (await fetch(`${p}/api/v1/query?query=vector(42)`)).status, prefix);
  expect(after).toBe(401);
}

describe('Prometheus at a sub-path behind Gatehouse', () => {
  it('config/examples/gatehouse/routes/prometheus.yaml: alice uses the UI and API, bob gets 403, anonymous gets 401 and the public liveness', {
    timeout: 150_000,
  }, async () => {
    await checkExample('gatehouse/routes/prometheus.yaml', '/prometheus', '/prometheus');
  });

  it('config/examples/gatehouse/routes/prometheus-strip-prefix.yaml: Prometheus at "/" reached at /metrics-ui through strip_prefix', {
    timeout: 150_000,
  }, async () => {
    await checkExample('gatehouse/routes/prometheus-strip-prefix.yaml', '/metrics-ui', '');
  });
});
