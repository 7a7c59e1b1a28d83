// Debian's Jupyter Notebook 6.4 behind Gatehouse, started and routed exactly as
// config/examples/gatehouse/routes/jupyter-notebook.yaml says (host, port and directory substituted as a user
// would; --allow-root added when the test runs as root). Checked in headless Chromium: alice
// signs in and lands in the notebook tree with no token page, opens a notebook, and runs
// print(6*7) through the UI over the kernel WebSocket; bob gets the 403 page and 403 JSON; an
// anonymous client gets the public liveness, 401 JSON for the API and a refused WebSocket, and
// forged identity headers change nothing; revoking alice's sessions closes her kernel WebSockets
// (close code 1008, reason "session revoked").
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import WebSocket from 'ws';
import { startOidcSetup } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import {
  exampleCommands,
  exampleRoutes,
  exampleText,
  launchChromium,
  revokeUser,
  runInNotebook,
  signIn,
  startTool,
  waitForStatus,
} from '../support/tool-kit.ts';

const FORGED = {
  'x-forwarded-user': 'alice@example.com',
  'x-forwarded-groups': 'data-scientists',
  'x-gatehouse-assertion': 'forged.jwt.value',
  'remote-user': 'alice',
};

describe('Jupyter Notebook 6.4 behind Gatehouse (config/examples/gatehouse/routes/jupyter-notebook.yaml)', () => {
  it('alice runs code through the UI and the kernel WebSocket, bob gets 403, anonymous 401; revocation closes the kernel socket', {
    timeout: 180_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-notebook-'));
    const port = await freePort();
    const text = exampleText('gatehouse/routes/jupyter-notebook.yaml', {
      'notebooks.corp.example': '127.0.0.1',
      '127.0.0.1:8888': `127.0.0.1:${port}`,
      '--port=8888': `--port=${port}`,
      '/srv/notebooks': dir,
    });
    const [command] = exampleCommands(text);
    expect(command?.[0]).toBe('/usr/bin/jupyter-notebook');
    const argv = process.getuid?.() === 0 ? [...command!, '--allow-root'] : command!;
    const jupyter = startTool(argv, { HOME: dir, JUPYTER_RUNTIME_DIR: join(dir, '.runtime'), PATH: `/usr/bin:${process.env.PATH}` });
    await waitForStatus(`http://127.0.0.1:${port}/api/status`, 200, 60_000, jupyter.output);
    const { gh, idp } = await startOidcSetup('', { routes: exampleRoutes(text) });

    // Anonymous: liveness public; the API 401 JSON (forged headers or not); no kernel WebSocket.
    const status = await request(`${gh.url}/api/status`);
    expect(status.statusCode).toBe(200);
    expect(await status.body.json()).toHaveProperty('started');
    for (const headers of [{}, FORGED]) {
      const r = await request(`${gh.url}/api/contents`, { headers });
      await r.body.text();
      expect(r.statusCode).toBe(401);
      expect(String(r.headers['content-type'])).toContain('application/json');
    }
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${gh.url.replace('http', 'ws')}/api/kernels/x/channels`, { headers: FORGED });
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    expect(refused).toBe(401);

    const browser = await launchChromium();
    // alice lands in the tree, not on Jupyter's token page.
    const signedIn = await signIn(browser, idp.issuer, `${gh.url}/tree`, 'alice', `${gh.url}/tree`);
    expect(await signedIn.title()).toBe('Home Page - Select or create a notebook');
    // A new notebook in the UI: every script and style loads, the kernel connects over its
    // WebSocket and runs print(6*7).
    const { page: alice, sockets, failures } = await runInNotebook(signedIn, `${gh.url}/`);
    expect(failures).toEqual([]);
    expect(sockets.some((s) => /\/api\/kernels\/[^/]+\/channels/.test(s.url))).toBe(true);

    // bob (labelers): the 403 page in the browser, 403 JSON for the API, even with forged headers.
    const bob = await signIn(browser, idp.issuer, `${gh.url}/tree`, 'bob', `${gh.url}/tree`);
    expect(await bob.title()).toContain('403');
    const bobApi = await bob.context().request.get(`${gh.url}/api/contents`, { headers: FORGED });
    expect(bobApi.status()).toBe(403);
    expect(bobApi.headers()['content-type']).toContain('application/json');

    // Revocation: alice's open kernel WebSocket is closed by Gatehouse, and her API calls end.
    const kernelSocket = sockets.find((s) => /\/channels/.test(s.url) && !s.closed);
    expect(kernelSocket).toBeDefined();
    // A second client on the same kernel with alice's session, to read the close code and reason.
    const session = (await alice.context().cookies(gh.url)).find((c) => c.name === 'gatehouse');
    const second = new WebSocket(kernelSocket!.url, { headers: { cookie: `gatehouse=${session!.value}` } });
    const secondClosed = new Promise<{ code: number; reason: string }>((r) =>
      second.once('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    await new Promise((r, j) => {
      second.once('open', r);
      second.once('error', j);
    });
    await revokeUser(gh.adminUrl, 'oidc-test-admin-token', 'alice@example.com');
    await expect.poll(() => kernelSocket!.closed, { timeout: 10_000 }).toBe(true);
    expect(await secondClosed).toEqual({ code: 1008, reason: 'session revoked' });
    const after = await alice.context().request.get(`${gh.url}/api/contents`);
    expect(after.status()).toBe(401);
  });
});
