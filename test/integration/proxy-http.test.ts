// Whole proxy in-process against real upstream sockets: routing, headers, errors, internal paths.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { getJson, rawRequest } from '../support/http.ts';
import { deadPort, startUpstream } from '../support/upstream.ts';

describe('routing through the live proxy', () => {
  it('picks exact host, then wildcard, then any-host, then the longest prefix', async () => {
    const [a, b, c, d] = await Promise.all([startUpstream(), startUpstream(), startUpstream(), startUpstream()]);
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [
        { name: 'any', upstream: a.url, allow: { public: true } },
        { name: 'wild', host: '*.corp.example', upstream: b.url, allow: { public: true } },
        { name: 'exact', host: 'mlflow.corp.example', upstream: c.url, allow: { public: true } },
        { name: 'exact-api', host: 'mlflow.corp.example', path: '/api', upstream: d.url, allow: { public: true } },
      ],
    });
    const hit = async (host: string, path: string) => (await getJson(`${gh.url}${path}`, { host })).body.url as string;
    await hit('mlflow.corp.example', '/x');
    expect(c.seen.map((s) => s.url)).toEqual(['/x']);
    await hit('MLflow.Corp.Example:443', '/api/runs');
    expect(d.seen.map((s) => s.url)).toEqual(['/api/runs']);
    await hit('mlflow.corp.example', '/apix');
    expect(c.seen.map((s) => s.url)).toEqual(['/x', '/apix']);
    await hit('labels.corp.example', '/y');
    expect(b.seen.map((s) => s.url)).toEqual(['/y']);
    await hit('other.example', '/z');
    expect(a.seen.map((s) => s.url)).toEqual(['/z']);
  });

  it('answers 404 GH_NO_ROUTE as JSON for API clients and as a page for browsers', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [{ name: 'only', host: 'a.example', upstream: up.url, allow: { public: true } }],
    });
    const j = await getJson(`${gh.url}/x`, { host: 'b.example' });
    expect(j.status).toBe(404);
    expect(j.body).toMatchObject({ error: 'GH_NO_ROUTE', status: 404 });
    expect(j.body.request_id).toBe(j.headers['x-request-id']);
    const page = await request(`${gh.url}/x`, { headers: { host: 'b.example', accept: 'text/html,*/*' } });
    const html = await page.body.text();
    expect(page.statusCode).toBe(404);
    expect(page.headers['content-type']).toContain('text/html');
    expect(html).toContain('No route');
    expect(html).toContain(String(page.headers['x-request-id']));
    expect(up.seen).toHaveLength(0);
  });

  it('sends the normalised path and the untouched query upstream', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const r = await rawRequest(gh.url, 'GET /a/./b//%63/../d?x=%2F&y=1 HTTP/1.1\r\nhost: h');
    expect(r.status).toBe(200);
    expect(up.seen[0]!.url).toBe('/a/b/d?x=%2F&y=1');
  });

  it('refuses ambiguous paths with 400 before routing and never proxies them', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [{ name: 'only', host: 'a.example', upstream: up.url, allow: { public: true } }],
    });
    for (const path of ['/a%2Fb', '/a%5cb', '/../etc/passwd', '/a/%2e%2e/%2e%2e/x', '/a%00', '/a%zz', '/%C0%AF']) {
      // Host does not match any route: 400 must win over 404, proving the check comes first.
      const r = await rawRequest(gh.url, `GET ${path} HTTP/1.1\r\nhost: nowhere.example\r\naccept: application/json`);
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body).error, path).toBe('GH_BAD_PATH');
    }
    expect(up.seen).toHaveLength(0);
  });

  it('never proxies /.gatehouse/* paths', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    for (const p of ['/.gatehouse/anything', '/.gatehouse', '/x/../.gatehouse/login']) {
      const r = await getJson(`${gh.url}${p}`);
      expect(r.status, p).toBe(404);
      expect(r.body.error).toBe('GH_NOT_FOUND');
    }
    expect(up.seen).toHaveLength(0);
  });

  it('requires sign-in (401, default deny) on routes that are not public', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [
        { name: 'closed', path: '/closed', upstream: up.url },
        { name: 'groups', path: '/groups', upstream: up.url, allow: { groups: ['ml-admins'] } },
      ],
    });
    for (const p of ['/closed/x', '/groups']) {
      const r = await getJson(`${gh.url}${p}`);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('GH_UNAUTHENTICATED');
    }
    expect(up.seen).toHaveLength(0);
  });
});

describe('headers', () => {
  it('sets X-Forwarded-* itself and ignores client copies from untrusted peers', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const r = await getJson(`${gh.url}/echo`, {
      host: 'app.example:8443',
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=6.6.6.6',
      'x-real-ip': '6.6.6.6',
      'x-request-id': 'spoofed-id',
      'x-gatehouse-assertion': 'forged',
      'X-Gatehouse-User': 'admin',
    });
    const h = up.seen[0]!.headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    // app.example is no host Gatehouse serves (the route takes any host): the upstream is told
    // public_url's authority, never a name or port the client made up (issue 11).
    expect(h['x-forwarded-host']).toBe('127.0.0.1:4180');
    expect(h.forwarded).toBeUndefined();
    expect(h['x-real-ip']).toBeUndefined();
    expect(h['x-gatehouse-assertion']).toBeUndefined();
    expect(h['x-gatehouse-user']).toBeUndefined();
    expect(h['x-request-id']).not.toBe('spoofed-id');
    expect(h['x-request-id']).toBe(r.headers['x-request-id']);
    expect(h.host).toBe(new URL(up.url).host);
  });

  it('believes X-Forwarded-* and X-Request-Id from trusted proxies', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(up.url),
      server: { ...(baseConfig().server as object), trusted_proxies: ['127.0.0.0/8'] },
      routes: [{ name: 'mlflow', host: 'mlflow.corp.example', upstream: up.url, allow: { public: true } }],
    });
    const r = await getJson(`${gh.url}/echo`, {
      'x-forwarded-for': '203.0.113.7, 10.1.2.3',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'mlflow.corp.example',
      'x-request-id': 'ingress-abc123',
    });
    const h = up.seen[0]!.headers;
    expect(h['x-forwarded-for']).toBe('203.0.113.7, 10.1.2.3, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('https');
    // The served name with public_url's port (a dev-mode 4180 here; none behind https on 443).
    expect(h['x-forwarded-host']).toBe('mlflow.corp.example:4180');
    expect(h['x-request-id']).toBe('ingress-abc123');
    expect(r.headers['x-request-id']).toBe('ingress-abc123');
  });

  it('removes hop-by-hop headers and Connection-listed headers in both directions', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const r = await rawRequest(
      gh.url,
      'GET /hop HTTP/1.1\r\nhost: h\r\nx-drop-me: 1\r\nconnection: x-drop-me\r\nkeep-alive: timeout=1\r\nte: trailers\r\nproxy-authorization: Basic Zm9vOmJhcg==\r\nx-stay: 1',
    );
    const sent = up.seen[0]!.headers;
    expect(sent['x-drop-me']).toBeUndefined();
    expect(sent['keep-alive']).toBeUndefined();
    expect(sent.te).toBeUndefined();
    expect(sent['proxy-authorization']).toBeUndefined();
    expect(sent['x-stay']).toBe('1');
    expect(r.status).toBe(200);
    expect(r.headers['x-secret-hop']).toBeUndefined();
    expect(r.headers['keep-alive']).toBeUndefined();
    expect(r.headers['x-kept']).toBe('yes');
  });

  it('passes several Set-Cookie headers and upstream statuses through', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const r = await request(`${gh.url}/set-cookie`);
    await r.body.text();
    expect(r.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    for (const status of [201, 204, 304, 404, 500]) {
      const s = await request(`${gh.url}/status/${status}`);
      await s.body.text();
      expect(s.statusCode).toBe(status);
    }
  });

  it('keeps the client Host with preserve_host and prefixes the upstream base path', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [
        { name: 'keep', host: 'mlflow.corp.example', path: '/keep', upstream: up.url, preserve_host: true, allow: { public: true } },
        { name: 'base', path: '/base', upstream: `${up.url}/prefix/`, allow: { public: true } },
      ],
    });
    await getJson(`${gh.url}/keep/x`, { host: 'MLflow.corp.example:9999' });
    expect(up.seen[0]!.headers.host).toBe('mlflow.corp.example:4180');
    await getJson(`${gh.url}/base/y?q=1`);
    expect(up.seen[1]!.url).toBe('/prefix/base/y?q=1');
  });
});

describe('upstream failures', () => {
  it('answers 502 GH_UPSTREAM_UNREACHABLE when nothing listens upstream', async () => {
    const port = await deadPort();
    const gh = await startTestGatehouse(baseConfig(`http://127.0.0.1:${port}`));
    const j = await getJson(`${gh.url}/x`);
    expect(j.status).toBe(502);
    expect(j.body).toMatchObject({ error: 'GH_UPSTREAM_UNREACHABLE', route: 'app' });
    expect(JSON.stringify(j.body)).not.toContain(String(port)); // no internals in the client answer
    const page = await request(`${gh.url}/x`, { headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(502);
    expect(await page.body.text()).toContain('not reachable');
    const metrics = await (await request(`${gh.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/gatehouse_upstream_errors_total\{route="app",code="GH_UPSTREAM_UNREACHABLE"\} 2/);
  });

  it('answers 504 GH_UPSTREAM_TIMEOUT when the upstream does not answer within the route timeout', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [{ name: 'slow', upstream: up.url, timeout: '300ms', allow: { public: true } }],
    });
    const started = Date.now();
    const j = await getJson(`${gh.url}/slow`);
    expect(j.status).toBe(504);
    expect(j.body.error).toBe('GH_UPSTREAM_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('closes the upstream request when the client goes away', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const up = await startUpstream((req) => {
      if (req.url !== '/hang') return false;
      req.socket.once('close', () => upstreamClosed());
      return true;
    });
    const gh = await startTestGatehouse(baseConfig(up.url));
    const ac = new AbortController();
    const pending = request(`${gh.url}/hang`, { signal: ac.signal }).catch((e: Error) => e);
    await expect.poll(() => up.seen.length).toBe(1);
    ac.abort();
    await pending;
    await closed; // resolves only if Gatehouse tore down its upstream connection
    expect(up.openSockets()).toBe(0);
  });
});
