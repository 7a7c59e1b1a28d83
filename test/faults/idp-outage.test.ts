// Issue 12, items 4 and 5: the real OpenID provider (the demo IdP, oidc-provider) down at start,
// down after start, and hung (a TCP server in its place that accepts and never answers) at the
// callback. The replica stays ready — signed-in users keep working — while /readyz says which IdP
// is unreachable and gatehouse_idp_up{idp} shows it; sign-in works again within seconds of the IdP
// coming back; a token endpoint that times out is 503 GH_IDP_UNAVAILABLE with a way to start the
// same sign-in again, not 400 GH_LOGIN_FAILED.
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startDemoIdp, type DemoIdp } from '../../src/demo/idp.ts';
import { createLogger } from '../../src/log.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { CLIENT_ID, CLIENT_SECRET, startOidcSetup, USERS } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

const isCallback = (u: string) => u.includes('/.gatehouse/oidc/corp/callback');

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [k: string]: unknown;
}

function capturedLogger() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { log: createLogger('debug', stream), lines };
}

/** The demo IdP on a fixed port, with the one client Gatehouse at `ghUrl` uses. */
async function idpOn(port: number, ghUrl: string): Promise<DemoIdp> {
  const idp = await startDemoIdp({
    port,
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${ghUrl}/.gatehouse/oidc/corp/callback`] }],
  });
  onTestFinished(() => idp.close());
  return idp;
}

/** Something in the IdP's place that accepts connections and never answers. */
async function hungServer(port: number): Promise<{ close(): Promise<void>; connections(): number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  onTestFinished(async () => {
    if (server.listening) await close();
  });
  return { close, connections: () => accepted };
}

async function idpUp(adminUrl: string): Promise<number | undefined> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text();
  const m = /^gatehouse_idp_up\{idp="corp"\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('identity provider outages', () => {
  it('down at start: ready, reported per IdP; discovery retries capped; sign-in works at once when it is back', {
    timeout: 90_000,
  }, async () => {
    const up = await startUpstream();
    const [port, idpPort] = await Promise.all([freePort(), freePort()]);
    const url = `http://127.0.0.1:${port}`;
    const { log, lines } = capturedLogger();
    const gh = await startTestGatehouse(
      {
        log_level: 'debug',
        server: { listen: `127.0.0.1:${port}`, public_url: url },
        admin: { listen: '127.0.0.1:0' },
        session: { secret: 'idp-fault-test-secret-0123456789abcdefgh', cookie: { secure: false } },
        identity_providers: [
          {
            id: 'corp',
            type: 'oidc',
            issuer: `http://127.0.0.1:${idpPort}`,
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            scopes: ['openid', 'email', 'profile', 'groups'],
          },
        ],
        routes: [{ name: 'app', upstream: up.url, allow: { authenticated: true } }],
      },
      { log },
    );

    // Ready (signed-in users are unaffected), but the IdP is reported down.
    const ready = await getJson(`${gh.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    await expect
      .poll(async () => (await getJson(`${gh.adminUrl}/readyz`)).body.identity_providers?.corp?.status, { timeout: 10_000 })
      .toBe('unreachable');
    expect((await getJson(`${gh.adminUrl}/readyz`)).status).toBe(200);
    expect(await idpUp(gh.adminUrl)).toBe(0);

    // A browser trying to sign in gets a page that offers to try again, with the same return URL.
    const browser = new TestBrowser();
    const down = await browser.fetch(`${url}/.gatehouse/login?rd=%2Fruns%3Fx%3D1`);
    expect(down.status).toBe(503);
    expect(down.body).toContain('href="/.gatehouse/login?rd=%2Fruns%3Fx%3D1"');

    // Five failed discoveries: backoff 1, 2, 4, 8 s, then capped (it was 16, 32, 60 s).
    const failures = () => lines.filter((l) => /discovery failed/.test(l.msg) && typeof l.retry_in_ms === 'number');
    await expect.poll(() => failures().length, { timeout: 45_000, interval: 250 }).toBeGreaterThanOrEqual(5);
    const delays = failures().map((l) => Number(l.retry_in_ms));
    console.log(`discovery retry delays (ms): ${delays.join(', ')}`);
    expect(Math.max(...delays)).toBeLessThanOrEqual(10_000);

    // The IdP is back: the next sign-in attempt asks it again at once (not at the next retry).
    await idpOn(idpPort, url);
    const statuses: number[] = [];
    for (let i = 0; i < 20 && statuses.at(-1) !== 302; i++) {
      statuses.push((await browser.fetch(`${url}/.gatehouse/login?rd=/`)).status);
      if (statuses.at(-1) !== 302) await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`sign-in attempts after the IdP came back: ${statuses.join(', ')}`);
    expect(statuses.at(-1)).toBe(302);
    expect(statuses.filter((s) => s === 503).length).toBeLessThanOrEqual(1);
    const page = await browser.go(`${url}/runs`, USERS.alice);
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${url}/runs`);
    expect((await getJson(`${gh.adminUrl}/readyz`)).body.identity_providers.corp.status).toBe('ok');
    expect(await idpUp(gh.adminUrl)).toBe(1);
  });

  it('down and hung after start: signed-in users keep working; /readyz and the gauge say so; back when it is', {
    timeout: 90_000,
  }, async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, { provider: { health_check_interval: '1s', timeout: '1s' } });
    const idpPort = Number(new URL(idp.issuer).port);
    const browser = new TestBrowser();
    expect((await browser.go(`${gh.url}/runs`, USERS.alice)).status).toBe(200);
    expect(await idpUp(gh.adminUrl)).toBe(1);
    const corp = async () => (await getJson(`${gh.adminUrl}/readyz`)).body.identity_providers?.corp;

    await idp.close();
    await expect.poll(async () => (await corp())?.status, { timeout: 20_000, interval: 200 }).toBe('unreachable');
    expect((await getJson(`${gh.adminUrl}/readyz`)).status).toBe(200);
    expect(await idpUp(gh.adminUrl)).toBe(0);
    expect((await browser.fetch(`${gh.url}/runs`)).status).toBe(200);

    const second = await idpOn(idpPort, gh.url);
    await expect.poll(async () => (await corp())?.status, { timeout: 20_000, interval: 200 }).toBe('ok');
    expect(await idpUp(gh.adminUrl)).toBe(1);

    // Hung: connections accepted, nothing answered. Probes time out after `timeout`.
    await second.close();
    const hung = await hungServer(idpPort);
    await expect.poll(async () => (await corp())?.status, { timeout: 20_000, interval: 200 }).toBe('unreachable');
    expect((await corp()).error).toMatch(/time/i);
    expect(hung.connections()).toBeGreaterThan(0);
    expect((await browser.fetch(`${gh.url}/runs`)).status).toBe(200);
    await hung.close();
    await idpOn(idpPort, gh.url);
    await expect.poll(async () => (await corp())?.status, { timeout: 20_000, interval: 200 }).toBe('ok');
  });

  it('hung at the callback: 503 GH_IDP_UNAVAILABLE offering the same sign-in again, which then works', { timeout: 90_000 }, async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url);
    const idpPort = Number(new URL(idp.issuer).port);
    const browser = new TestBrowser();
    // Sign in at the IdP, but stop before the browser brings the code back.
    const stopped = await browser.go(`${gh.url}/runs/7?tab=metrics`, USERS.alice, isCallback);
    expect(isCallback(stopped.url)).toBe(true);

    await idp.close();
    const hung = await hungServer(idpPort);
    const page = await browser.fetch(stopped.url);
    expect(hung.connections()).toBeGreaterThan(0);
    expect(page.status).toBe(503);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('Sign-in unavailable');
    const retry = /href="([^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&');
    expect(retry).toBe(`/.gatehouse/login?rd=${encodeURIComponent('/runs/7?tab=metrics')}&idp=corp`);
    expect((await getJson(`${gh.adminUrl}/readyz`)).body.identity_providers.corp.status).toBe('unreachable');

    // The IdP is back: the offered link signs in and lands where the user started.
    await hung.close();
    await idpOn(idpPort, gh.url);
    const again = await browser.go(`${gh.url}${retry}`, USERS.alice);
    expect(again.status).toBe(200);
    expect(again.url).toBe(`${gh.url}/runs/7?tab=metrics`);
    expect((await getJson(`${gh.adminUrl}/readyz`)).body.identity_providers.corp.status).toBe('ok');
  });

  it('an API client at a hung callback gets 503 JSON GH_IDP_UNAVAILABLE after `timeout`', { timeout: 60_000 }, async () => {
    const up = await startUpstream();
    const { gh, idp } = await startOidcSetup(up.url, { provider: { timeout: '1s' } });
    const idpPort = Number(new URL(idp.issuer).port);
    const browser = new TestBrowser();
    const stopped = await browser.go(`${gh.url}/`, USERS.alice, isCallback);
    await idp.close();
    await hungServer(idpPort);
    const r = await browser.fetch(stopped.url, { headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' } });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'GH_IDP_UNAVAILABLE', status: 503 });
  });
});
