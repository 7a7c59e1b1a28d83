// Debian's JupyterHub 3.0 with configurable-http-proxy behind Gatehouse, configured exactly as
// config/examples/gatehouse/routes/jupyterhub.yaml and config/examples/integrations/jupyterhub/*.py say (host, ports and
// directory substituted as a user would; the documented SimpleLocalProcessSpawner flag, since CI
// has no system accounts; --allow-root for the single-user servers when run as root). Checked:
// alice signs in through the IdP and lands in her spawned notebook server with no hub login
// page, as a hub admin with the spawner-safe name "alice"; a restart's spawn progress streams to
// the browser's EventSource; print(6*7) runs over the kernel WebSocket; bob gets the 403 page;
// an anonymous client gets 401/302 and forged headers change nothing; a request straight to the
// hub's port with a bare X-Forwarded-User (or a forged assertion) is refused, and alice's hub
// cookie counts there only with an assertion for alice (identity follows the browser); revoking alice's
// sessions closes her kernel WebSocket; the hub's Logout continues to Gatehouse's logout.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
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
  runInNotebook,
  signIn,
  startTool,
  waitForStatus,
} from '../support/tool-kit.ts';

const FORGED = {
  'x-forwarded-user': 'alice@example.com',
  'x-forwarded-groups': 'data-scientists,ml-admins',
  'x-gatehouse-assertion': 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.',
  'remote-user': 'alice',
};

describe('JupyterHub 3 behind Gatehouse (config/examples/gatehouse/routes/jupyterhub.yaml + integrations/jupyterhub/)', () => {
  it('alice spawns and uses her server, bob gets 403, direct and forged requests are refused, revocation closes the kernel socket', {
    timeout: 300_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-hub-'));
    const [hubPort, apiPort, proxyApiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const routeText = exampleText('gatehouse/routes/jupyterhub.yaml', {
      'hub.corp.example': '127.0.0.1',
      '127.0.0.1:8000': `127.0.0.1:${hubPort}`,
    });
    const { gh, idp } = await startOidcSetup('', { routes: exampleRoutes(routeText) });

    // The hub's files as a user would install them, with this machine's host, ports and directory.
    const config = exampleText('integrations/jupyterhub/jupyterhub_config.py', {
      'https://hub.corp.example': gh.url,
      '127.0.0.1:8000': `127.0.0.1:${hubPort}`,
      'hub_port = 8081': `hub_port = ${apiPort}`,
      '127.0.0.1:8001': `127.0.0.1:${proxyApiPort}`,
      '/srv/jupyterhub': dir,
    });
    writeFileSync(join(dir, 'jupyterhub_config.py'), config);
    copyFileSync(
      new URL('../../config/examples/integrations/jupyterhub/gatehouse_authenticator.py', import.meta.url),
      join(dir, 'gatehouse_authenticator.py'),
    );
    const [command] = exampleCommands(config);
    expect(command).toEqual(['/usr/bin/jupyterhub', '-f', join(dir, 'jupyterhub_config.py')]);
    expect(exampleCommands(exampleText('gatehouse/routes/jupyterhub.yaml', { '/srv/jupyterhub': dir }))[0]).toEqual(command);
    const asRoot = process.getuid?.() === 0 ? ['--Spawner.args=--allow-root'] : [];
    const hub = startTool(
      [...command!, '--JupyterHub.spawner_class=jupyterhub.spawner.SimpleLocalProcessSpawner', ...asRoot],
      {
        NODE_PATH: '/usr/share/nodejs',
        HOME: dir,
        PATH: `/usr/bin:${process.env.PATH}`,
      },
      dir,
      20_000,
    );
    await waitForStatus(`http://127.0.0.1:${hubPort}/hub/health`, 200, 90_000, hub.output);

    // Anonymous through Gatehouse: liveness public, API 401 JSON, forged headers change nothing.
    expect((await request(`${gh.url}/hub/health`)).statusCode).toBe(200);
    for (const headers of [{}, FORGED]) {
      const r = await request(`${gh.url}/hub/api/user`, { headers });
      await r.body.text();
      expect(r.statusCode).toBe(401);
    }
    // Straight to the hub's port: a bare X-Forwarded-User, or a forged assertion, gets no login.
    for (const headers of [{ 'x-forwarded-user': 'alice@example.com' }, FORGED]) {
      const r = await request(`http://127.0.0.1:${hubPort}/hub/login`, { headers });
      await r.body.text();
      expect(r.statusCode, hub.output()).toBe(403);
      expect(String(r.headers['set-cookie'] ?? '')).not.toContain('jupyterhub-session-id=');
      expect(String(r.headers['set-cookie'] ?? '')).not.toContain('jupyterhub-hub-login=');
    }

    const browser = await launchChromium();
    // alice: IdP, then straight into her spawned server; no hub login form on the way.
    const signedIn = await signIn(browser, idp.issuer, `${gh.url}/hub/`, 'alice', /\/user\/alice\/tree/);
    expect(await signedIn.title()).toBe('Home Page - Select or create a notebook');
    expect(await signedIn.locator('input[name=password]').count()).toBe(0);

    // A restart from the hub's home page API, watched through the spawn progress EventSource.
    const hubPage = await signedIn.context().newPage();
    const hubFailures = await failuresDuring(hubPage, async () => {
      await hubPage.goto(`${gh.url}/hub/home`, { waitUntil: 'networkidle' });
    });
    expect(hubFailures).toEqual([]);
    // (The hub answers its API only to its own pages: JupyterHub 3 checks the Referer's path.)
    const me = await hubPage.evaluate(async () => (await fetch('/hub/api/user')).json() as Promise<{ name: string; admin: boolean }>);
    expect(me).toMatchObject({ name: 'alice', admin: true });

    // Straight to the hub's port with alice's hub cookie: it counts only with an assertion for
    // alice; none (e.g. a hub cookie left behind after Gatehouse's logout), or another user's
    // (another sign-in in the same browser), makes the hub sign in again.
    const hubCookie = (await hubPage.context().cookies())
      .filter((c) => c.name.startsWith('jupyterhub-'))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    expect(hubCookie).toContain('jupyterhub-hub-login=');
    const hubRoute = gh.current().routes.select('127.0.0.1', ['/hub/']);
    if (hubRoute === undefined || hubRoute === 'ambiguous') throw new Error('no jupyterhub route');
    const plan = hubRoute.plan.headers;
    const assertionFor = async (user: string) =>
      (await plan.build({ user, email: user, groups: ['data-scientists'], idp: 'corp' }, undefined))['x-gatehouse-assertion']!;
    const direct = async (assertion?: string) => {
      // (A Referer of the hub's own: JupyterHub refuses cookie-authenticated API calls without one.)
      const headers = {
        cookie: hubCookie,
        referer: `http://127.0.0.1:${hubPort}/hub/home`,
        ...(assertion ? { 'x-gatehouse-assertion': assertion } : {}),
      };
      const r = await request(`http://127.0.0.1:${hubPort}/hub/api/user`, { headers });
      const body = await r.body.text();
      return r.statusCode === 200 ? (JSON.parse(body) as { name: string }).name : r.statusCode;
    };
    expect(await direct(await assertionFor('alice@example.com'))).toBe('alice');
    expect(await direct()).toBe(403);
    expect(await direct(await assertionFor('carol@example.com'))).toBe(403);
    const progress = await hubPage.evaluate(async () => {
      const stop = await fetch('/hub/api/users/alice/server', { method: 'DELETE' });
      for (let i = 0; i < 100; i++) {
        const u = (await (await fetch('/hub/api/user')).json()) as { servers: Record<string, { ready: boolean }> };
        if (!u.servers['']) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const start = await fetch('/hub/api/users/alice/server', { method: 'POST' });
      const events = await new Promise<{ progress?: number; ready?: boolean; message?: string }[]>((resolve, reject) => {
        const got: { progress?: number; ready?: boolean }[] = [];
        const es = new EventSource('/hub/api/users/alice/server/progress');
        es.onmessage = (m) => {
          const e = JSON.parse(m.data) as { ready?: boolean };
          got.push(e);
          if (e.ready) {
            es.close();
            resolve(got);
          }
        };
        es.onerror = () => {
          es.close();
          reject(new Error(`progress stream failed after ${JSON.stringify(got)}`));
        };
      });
      return { stop: stop.status, start: start.status, events };
    });
    expect([202, 204]).toContain(progress.stop);
    expect([201, 202]).toContain(progress.start);
    expect(progress.events.at(-1)).toMatchObject({ ready: true, progress: 100 });

    // The notebook UI in alice's restarted server (a new server: the tree page signs in to it
    // again through the hub's OAuth): assets, API calls, the kernel WebSocket, print(6*7).
    await signedIn.goto(`${gh.url}/user/alice/tree`);
    await signedIn.waitForURL(/\/user\/alice\/tree/);
    const { sockets, failures } = await runInNotebook(signedIn, `${gh.url}/user/alice/`);
    expect(failures).toEqual([]);
    expect(sockets.some((s) => /\/user\/alice\/api\/kernels\/[^/]+\/channels/.test(s.url))).toBe(true);

    // bob (labelers) is not in data-scientists or ml-admins: the 403 page.
    const bob = await signIn(browser, idp.issuer, `${gh.url}/hub/`, 'bob', `${gh.url}/hub/`);
    expect(await bob.title()).toContain('403');

    // Revocation closes alice's kernel WebSocket; her next hub API call is refused.
    const kernelSocket = sockets.find((s) => /\/channels/.test(s.url) && !s.closed);
    expect(kernelSocket).toBeDefined();
    await revokeUser(gh.adminUrl, 'oidc-test-admin-token', 'alice@example.com');
    await expect.poll(() => kernelSocket!.closed, { timeout: 10_000 }).toBe(true);
    expect((await signedIn.context().request.get(`${gh.url}/hub/api/user`)).status()).toBe(401);

    // Signed in again, the hub's Logout ends at Gatehouse's logout (not signed straight back in).
    const again = await signIn(browser, idp.issuer, `${gh.url}/hub/home`, 'alice', `${gh.url}/hub/home`);
    await again.goto(`${gh.url}/hub/logout`);
    expect(again.url()).toBe(`${gh.url}/.gatehouse/logout`);
    const hubCookies = (await again.context().cookies(gh.url)).filter(
      (c) => c.name.startsWith('jupyterhub-session-id') || c.name === 'jupyterhub-hub-login',
    );
    expect(hubCookies.map((c) => c.name)).not.toContain('jupyterhub-hub-login');
  });
});
