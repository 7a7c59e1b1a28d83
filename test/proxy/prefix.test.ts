// strip_prefix (src/proxy/prefix.ts): which paths are stripped, and how Location and Set-Cookie
// Path from the upstream are put back under the prefix. Then the whole path through a real
// Gatehouse to the spy upstream: what the upstream received and what the client got back.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import WebSocket from 'ws';
import { compileConfig } from '../../src/config/compile.ts';
import { mapPrefix, rewriteCookiePath, rewriteLocation, rewriteResponseHeaders } from '../../src/proxy/prefix.ts';
import { startSpyUpstream } from '../support/spy-upstream.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';

function route(over: object = {}) {
  const { config } = compileConfig({
    server: { public_url: 'https://ml.corp.example' },
    routes: [{ name: 'code', path: '/code', upstream: 'http://127.0.0.1:8443', strip_prefix: true, allow: { public: true }, ...over }],
  });
  return config.routes[0]!;
}

describe('mapPrefix', () => {
  it("strips the route prefix on whole segments, keeping the client's spelling as the prefix", () => {
    const r = route();
    expect(mapPrefix(r, '/code')).toEqual({ prefix: '/code', path: '/' });
    expect(mapPrefix(r, '/code/')).toEqual({ prefix: '/code', path: '/' });
    expect(mapPrefix(r, '/code/static/app.js')).toEqual({ prefix: '/code', path: '/static/app.js' });
    expect(mapPrefix(r, '/CODE/x')).toEqual({ prefix: '/CODE', path: '/x' });
    // Matched through another reading (";params", another segment): not stripped, refused upstream of here.
    expect(mapPrefix(r, '/code;v=1/x')).toBeUndefined();
    expect(mapPrefix(r, '/codex')).toBeUndefined();
    expect(mapPrefix(route({ case_insensitive_paths: false }), '/CODE/x')).toBeUndefined();
    expect(mapPrefix(route({ strip_prefix: false }), '/code/x')).toBeUndefined();
  });

  it('is off for a route at "/" (with a warning)', () => {
    const { config, warnings } = compileConfig({
      server: { public_url: 'https://ml.corp.example' },
      routes: [{ name: 'root', upstream: 'http://127.0.0.1:1', strip_prefix: true, allow: { public: true } }],
    });
    expect(config.routes[0]!.stripPrefix).toBe(false);
    expect(warnings.join('\n')).toContain('routes[0].strip_prefix');
  });
});

describe('response rewriting', () => {
  it('Location: path-absolute and self-naming absolute URLs go under the prefix; others pass', () => {
    const loc = (v: string) => rewriteLocation(v, '/code', '127.0.0.1:8443', 'ml.corp.example', 'https');
    expect(loc('/login?next=%2F')).toBe('/code/login?next=%2F');
    expect(loc('/')).toBe('/code/');
    // Already under the prefix (the app knows its public path): not doubled.
    expect(loc('/code/graph')).toBe('/code/graph');
    expect(loc('http://127.0.0.1:8443/a/b?c=1#d')).toBe('https://ml.corp.example/code/a/b?c=1#d');
    expect(loc('https://ml.corp.example/a')).toBe('https://ml.corp.example/code/a');
    expect(loc('https://idp.example/authorize?x=1')).toBe('https://idp.example/authorize?x=1');
    expect(loc('//evil.example/x')).toBe('//evil.example/x');
    expect(loc('relative/path')).toBe('relative/path');
  });

  it("Set-Cookie: Path under the prefix (any case and spacing), no Path left alone; Gatehouse's own cookies untouched", () => {
    expect(rewriteCookiePath('sid=1; Path=/; HttpOnly', '/code')).toBe('sid=1; Path=/code/; HttpOnly');
    expect(rewriteCookiePath('sid=1; path = /api; Secure', '/code')).toBe('sid=1; path = /code/api; Secure');
    expect(rewriteCookiePath('sid=1; HttpOnly', '/code')).toBe('sid=1; HttpOnly');
    const out = rewriteResponseHeaders(
      { 'set-cookie': ['a=1; Path=/', 'gatehouse=; Path=/; Max-Age=0'] },
      { prefix: '/code', path: '/' },
      'u:1',
      'h',
      'https',
      ['gatehouse=; Path=/; Max-Age=0'],
    );
    expect(out['set-cookie']).toEqual(['a=1; Path=/code/', 'gatehouse=; Path=/; Max-Age=0']);
  });
});

describe('strip_prefix through Gatehouse', () => {
  it('the upstream sees the path without the prefix and X-Forwarded-Prefix; redirects and cookies come back under it', async () => {
    const spy = await startSpyUpstream({
      upgrades: true,
      respond: (req) =>
        req.target.startsWith('/login')
          ? { status: 302, headers: { location: '/welcome', 'set-cookie': 'tool=1; Path=/; HttpOnly' } }
          : undefined,
    });
    const gh = await startTestGatehouse({
      ...baseConfig(),
      routes: [
        { name: 'code', path: '/code', upstream: spy.url, strip_prefix: true, allow: { public: true } },
        { name: 'plain', path: '/plain', upstream: spy.url, allow: { public: true } },
      ],
    });
    const r = await request(`${gh.url}/code/login?x=1`, { headers: { 'x-forwarded-prefix': '/forged' } });
    await r.body.text();
    expect(r.statusCode).toBe(302);
    expect(r.headers.location).toBe('/code/welcome');
    expect(r.headers['set-cookie']).toBe('tool=1; Path=/code/; HttpOnly');
    const [login] = await spy.waitForRequests(1);
    expect(login!.target).toBe('/login?x=1');
    expect(login!.headerAll('x-forwarded-prefix')).toEqual(['/code']);

    spy.reset();
    const root = await request(`${gh.url}/code`);
    await root.body.text();
    const plain = await request(`${gh.url}/plain/x`, { headers: { 'x-forwarded-prefix': '/forged' } });
    await plain.body.text();
    const [a, b] = await spy.waitForRequests(2);
    expect(a!.target).toBe('/');
    // Without strip_prefix: the path as is, and no X-Forwarded-Prefix (a client's is dropped).
    expect(b!.target).toBe('/plain/x');
    expect(b!.header('x-forwarded-prefix')).toBeUndefined();

    // A spelling the route does not name literally is refused rather than stripped wrongly.
    const odd = await request(`${gh.url}/code;v=1/x`);
    await odd.body.text();
    expect([400, 404]).toContain(odd.statusCode);

    // WebSocket upgrades are stripped too.
    spy.reset();
    const ws = new WebSocket(`${gh.url.replace('http', 'ws')}/code/socket`);
    await new Promise<void>((resolve) => {
      ws.once('upgrade', () => resolve());
      ws.once('error', () => resolve());
      ws.once('unexpected-response', () => resolve());
    });
    ws.terminate();
    const [up] = await spy.waitForRequests(1);
    expect(up!.target).toBe('/socket');
    expect(up!.header('x-forwarded-prefix')).toBe('/code');
  });
});
