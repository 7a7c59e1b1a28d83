// Gatehouse in front of a real Jupyter Notebook server (Debian jupyter-notebook, its own auth off,
// on loopback): with a session, the test starts a kernel over the REST API and runs print(6*7)
// through the kernel WebSocket, getting 42 — also after a policy reload while the WebSocket stays
// open. Without a session both the REST call and the WebSocket are refused.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { request } from 'undici';
import WebSocket from 'ws';
import { baseConfig, startTestGatehouse, type RawConfigInput } from '../support/start-gatehouse.ts';
import { freePort } from '../support/ports.ts';

const JUPYTER = '/usr/bin/jupyter-notebook';

async function startJupyter(): Promise<string> {
  if (!existsSync(JUPYTER)) throw new Error('jupyter-notebook not found: apt-get install jupyter-notebook python3-ipykernel');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-jupyter-'));
  const child = spawn(
    JUPYTER,
    [
      '--no-browser',
      '--ip=127.0.0.1',
      `--port=${port}`,
      '--port-retries=0',
      `--notebook-dir=${dir}`,
      '--NotebookApp.token=',
      '--NotebookApp.password=',
      '--NotebookApp.disable_check_xsrf=True',
      '--allow-root',
    ],
    {
      stdio: 'ignore',
      env: { ...process.env, HOME: dir, JUPYTER_RUNTIME_DIR: join(dir, 'runtime'), PATH: `/usr/bin:${process.env.PATH}` },
    },
  );
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      () =>
        request(`${url}/api/status`).then(
          (r) => r.body.text().then(() => r.statusCode),
          () => 0,
        ),
      { timeout: 20_000, interval: 200 },
    )
    .toBe(200);
  return url;
}

function executeRequest(code: string, session: string) {
  return JSON.stringify({
    header: {
      msg_id: randomUUID(),
      username: 'test',
      session,
      msg_type: 'execute_request',
      version: '5.3',
      date: new Date().toISOString(),
    },
    parent_header: {},
    metadata: {},
    channel: 'shell',
    buffers: [],
    content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false },
  });
}

/** Run `code` on the kernel and resolve with what it printed on stdout. */
function run(ws: WebSocket, code: string, session: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no output from the kernel')), 15_000);
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse(String(data)) as { msg_type: string; content: { name?: string; text?: string } };
      if (msg.msg_type === 'stream' && msg.content.name === 'stdout') {
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(msg.content.text ?? '');
      }
    };
    ws.on('message', onMessage);
    ws.send(executeRequest(code, session));
  });
}

describe('Jupyter behind Gatehouse', () => {
  it('runs print(6*7) through the kernel WebSocket for a signed-in user, across a policy reload', async () => {
    const jupyter = await startJupyter();
    const route = (allow: object): RawConfigInput => ({
      ...baseConfig(),
      session: { secret: 'jupyter-test-session-secret-0123456789abcdef', cookie: { secure: false } },
      routes: [{ name: 'jupyter', upstream: jupyter, allow, api_paths: ['/api/**'] }],
    });
    let next = route({ groups: ['data-scientists'] });
    const gh = await startTestGatehouse(next, { reloadFrom: () => next });
    const s = await gh.current().sessions.create({ user: 'alice@example.com', groups: ['data-scientists'], idp: 't', method: 't' });
    const cookie = `gatehouse=${s.cookieValue}`;

    // Without a session: REST 401, WebSocket refused before any upgrade.
    const anon = await request(`${gh.url}/api/kernels`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    await anon.body.text();
    expect(anon.statusCode).toBe(401);
    const kernel = await request(`${gh.url}/api/kernels`, {
      method: 'POST',
      body: JSON.stringify({ name: 'python3' }),
      headers: { cookie, 'content-type': 'application/json' },
    });
    expect(kernel.statusCode).toBe(201);
    const { id } = (await kernel.body.json()) as { id: string };

    const wsUrl = `${gh.url.replace('http', 'ws')}/api/kernels/${id}/channels?session_id=${randomUUID()}`;
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    expect(refused).toBe(401);

    const ws = new WebSocket(wsUrl, { headers: { cookie } });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    onTestFinished(() => ws.terminate());
    const session = randomUUID();
    expect(await run(ws, 'print(6*7)', session)).toBe('42\n');

    // A policy edit takes effect for new requests; the open kernel WebSocket carries on.
    next = route({ groups: ['ml-admins'] });
    expect((await gh.reload()).ok).toBe(true);
    expect(await run(ws, 'print(6*7)', session)).toBe('42\n');
    const denied = await request(`${gh.url}/api/kernels`, { headers: { cookie } });
    await denied.body.text();
    expect(denied.statusCode).toBe(403);
  });
});
