// Tools keep their own Authorization (issue 16, DESIGN "Credentials on a request"): Gatehouse's
// credential may come in `Proxy-Authorization: Bearer` (Label Studio SDK, the Google IAP
// convention); Gatehouse strips that header and the tool's own Authorization reaches the upstream
// byte for byte. A non-Bearer Authorization scheme (JupyterHub `token`, Label Studio `Token`) is the
// tool's and never Gatehouse's. Requests go over raw sockets and land on the spy upstream, so no
// client library normalises what is sent or seen; the IdP is the real demo oidc-provider,
// publishing the key the tokens are signed with.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { parseRecords, readNdjson } from '../support/audit.ts';
import { idpSigningKey, startOidcSetup } from '../support/oidc.ts';
import { sendRaw, type RawResponse } from '../support/raw-http.ts';
import { sessionCookie } from '../support/signed-in.ts';
import { startSpyUpstream, type SpyRequest } from '../support/spy-upstream.ts';

async function setUp() {
  const spy = await startSpyUpstream();
  const key = await idpSigningKey();
  const auditFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-proxy-authz-')), 'audit.ndjson');
  const logStream = new PassThrough();
  let logText = '';
  logStream.on('data', (c: Buffer) => (logText += c.toString()));
  const { gh, idp } = await startOidcSetup(spy.url, {
    provider: { bearer_audiences: ['label-studio-api'] },
    idp: { jwks: key.jwks },
    audit: { sinks: [{ type: 'file', path: auditFile }] },
    log: createLogger('debug', logStream),
    routes: [
      // A tool whose own API tokens are Bearer (JupyterHub accepts `Authorization: Bearer <its token>`).
      { name: 'hub', path: '/hub', upstream: spy.url, bearer_header: 'proxy_authorization', allow: { groups: ['ml-admins'] } },
      { name: 'admin', path: '/admin', upstream: spy.url, allow: { groups: ['ml-admins'] } },
      { name: 'app', path: '/', upstream: spy.url, allow: { authenticated: true } },
    ],
  });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ email: 'svc-1@example.com', groups: ['ml-admins'] })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .setIssuer(idp.issuer)
    .setAudience('label-studio-api')
    .setSubject('svc-1')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(key.privateKey);
  const authority = new URL(gh.url).host;
  /** One request over a raw socket: exactly these header lines, nothing a client library adds. */
  const send = async (path: string, headers: readonly string[]): Promise<RawResponse> => {
    const r = await sendRaw(
      gh.url,
      `GET ${path} HTTP/1.1\r\nHost: ${authority}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`,
    );
    expect(r.responses.length, r.received.toString('latin1')).toBe(1);
    return r.responses[0]!;
  };
  const seen = (path: string): SpyRequest | undefined => spy.requests().find((r) => r.target === path);
  return { gh, spy, token, send, seen, auditFile, log: () => logText };
}

describe("Proxy-Authorization: Bearer and the tool's own Authorization", () => {
  it("Gatehouse reads its bearer from Proxy-Authorization, strips it, and passes the tool's Authorization unchanged", async () => {
    const { token, send, seen, auditFile, log } = await setUp();

    // Label Studio SDK: its API key in Authorization: Token, Gatehouse's credential beside it.
    const ls = await send('/admin/label-studio', [`Proxy-Authorization: Bearer ${token}`, 'Authorization: Token ls-api-key-0123']);
    expect(ls.status, ls.text()).toBe(200);
    const lsSeen = seen('/admin/label-studio');
    expect(lsSeen?.headerAll('authorization')).toEqual(['Token ls-api-key-0123']);
    expect(lsSeen?.headerAll('proxy-authorization')).toEqual([]);
    expect(lsSeen?.header('x-forwarded-user')).toBe('svc-1@example.com');
    expect(lsSeen?.header('x-forwarded-groups')).toBe('ml-admins');

    // Both headers Bearer: Proxy-Authorization is Gatehouse's; Authorization (here not even a JWT)
    // is the tool's, never read, passed through.
    const both = await send('/admin/both', [`Proxy-Authorization: Bearer ${token}`, 'Authorization: Bearer tool-own-token']);
    expect(both.status, both.text()).toBe(200);
    expect(seen('/admin/both')?.headerAll('authorization')).toEqual(['Bearer tool-own-token']);
    expect(seen('/admin/both')?.headerAll('proxy-authorization')).toEqual([]);

    // A bad Proxy-Authorization is the answer, even beside a good Authorization bearer: no fallback.
    const bad = await send('/admin/bad-proxy', ['Proxy-Authorization: Bearer not-a-jwt-proxy-secret', `Authorization: Bearer ${token}`]);
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.text()).error).toBe('GH_BAD_TOKEN');
    expect(bad.header('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(seen('/admin/bad-proxy')).toBeUndefined();

    // Only Authorization: Bearer — as before: verified, and still passed upstream.
    const plain = await send('/admin/plain', [`Authorization: Bearer ${token}`]);
    expect(plain.status, plain.text()).toBe(200);
    expect(seen('/admin/plain')?.headerAll('authorization')).toEqual([`Bearer ${token}`]);
    expect(seen('/admin/plain')?.header('x-forwarded-user')).toBe('svc-1@example.com');

    // A Proxy-Authorization of another scheme (a forward proxy's Basic) is not Gatehouse's: the
    // Authorization bearer is the credential, and neither proxy header reaches the upstream.
    const basic = await send('/admin/basic', ['Proxy-Authorization: Basic cHJveHk6c2VjcmV0', `Authorization: Bearer ${token}`]);
    expect(basic.status, basic.text()).toBe(200);
    expect(seen('/admin/basic')?.headerAll('proxy-authorization')).toEqual([]);

    // An API client with only Proxy-Authorization gets JSON, never a sign-in redirect.
    const refused = await send('/admin/refused-nav', [
      'Proxy-Authorization: Bearer not-a-jwt-second',
      'Accept: text/html',
      'Sec-Fetch-Mode: navigate',
    ]);
    expect(refused.status).toBe(401);
    expect(refused.header('location')).toBeUndefined();

    // The refusal is audited; no token appears in the audit trail or the log.
    await expect
      .poll(() => parseRecords(readNdjson(auditFile)).filter((r) => r.event?.action === 'bearer_rejected').length, { timeout: 5000 })
      .toBeGreaterThanOrEqual(2);
    const trail = readNdjson(auditFile).join('\n');
    for (const secret of [token, 'not-a-jwt-proxy-secret', 'ls-api-key-0123', 'tool-own-token', 'cHJveHk6c2VjcmV0']) {
      expect(trail.includes(secret), `audit holds ${secret.slice(0, 12)}`).toBe(false);
      expect(log().includes(secret), `log holds ${secret.slice(0, 12)}`).toBe(false);
    }
    // (The log was captured: the check above looked at real lines.)
    expect(log()).toContain('gatehouse listening');
  });

  it("a non-Bearer Authorization is the tool's: with a session cookie it passes untouched, without one the caller is simply anonymous", async () => {
    const { gh, send, seen } = await setUp();
    const cookie = await sessionCookie(gh, { user: 'alice@example.com', groups: ['ml-admins'] });

    for (const [path, value] of [
      ['/hub/api/users', 'token jupyter-api-token-1'],
      ['/api/projects', 'Token label-studio-key-2'],
      ['/basic', 'Basic dXNlcjpwYXNz'],
    ] as const) {
      const r = await send(path, [`Cookie: ${cookie}`, `Authorization: ${value}`]);
      expect(r.status, `${path}: ${r.text()}`).toBe(200);
      const s = seen(path);
      expect(s?.headerAll('authorization'), path).toEqual([value]);
      expect(s?.header('x-forwarded-user'), path).toBe('alice@example.com');
      // Gatehouse's cookie stays Gatehouse's.
      expect(s?.headerAll('cookie'), path).toEqual([]);
    }

    // Header names are case-insensitive: PROXY-AUTHORIZATION is read (and this token refused);
    // Proxy_Authorization (a WSGI/CGI spelling) is not Gatehouse's, nor passed on.
    const upper = await send('/app-upper', ['PROXY-AUTHORIZATION: Bearer upper-secret']);
    expect(upper.status).toBe(401);
    expect(JSON.parse(upper.text()).error).toBe('GH_BAD_TOKEN');
    const under = await send('/app-underscore', ['Proxy_Authorization: Bearer underscore-secret']);
    expect(under.status).toBe(401);
    expect(JSON.parse(under.text()).error).toBe('GH_UNAUTHENTICATED');
    const spelled = await send('/app-spelled', [`Cookie: ${cookie}`, 'Proxy_Authorization: Bearer underscore-secret']);
    expect(spelled.status, spelled.text()).toBe(200);
    const sp = seen('/app-spelled');
    expect(sp?.headers.filter(([n]) => n.toLowerCase().replace(/_/g, '-') === 'proxy-authorization')).toEqual([]);

    // No cookie: no Gatehouse credential at all — 401 asking for one, not a refused token, and
    // as JSON (an Authorization header marks an API client).
    const anon = await send('/hub/api/anon', ['Authorization: token jupyter-api-token-1', 'Accept: text/html']);
    expect(anon.status).toBe(401);
    expect(JSON.parse(anon.text()).error).toBe('GH_UNAUTHENTICATED');
    expect(seen('/hub/api/anon')).toBeUndefined();
  });

  it("bearer_header: proxy_authorization — Gatehouse reads only Proxy-Authorization; an Authorization bearer is the tool's", async () => {
    const { token, send, seen } = await setUp();
    // Gatehouse's token beside the tool's own Bearer token: both accepted, the tool's untouched.
    const ok = await send('/hub/api/users', [`Proxy-Authorization: Bearer ${token}`, 'Authorization: Bearer jupyter-own-bearer']);
    expect(ok.status, ok.text()).toBe(200);
    expect(seen('/hub/api/users')?.headerAll('authorization')).toEqual(['Bearer jupyter-own-bearer']);
    expect(seen('/hub/api/users')?.header('x-forwarded-user')).toBe('svc-1@example.com');
    // Even a valid Gatehouse token in Authorization is not read on this route: the caller is
    // anonymous (401 asking for a credential, not a refused token), and nothing reaches the tool.
    const notRead = await send('/hub/api/anon', [`Authorization: Bearer ${token}`]);
    expect(notRead.status).toBe(401);
    expect(JSON.parse(notRead.text()).error).toBe('GH_UNAUTHENTICATED');
    expect(seen('/hub/api/anon')).toBeUndefined();
    // The same token in Authorization still works on a route with the default (any).
    const elsewhere = await send('/admin/elsewhere', [`Authorization: Bearer ${token}`]);
    expect(elsewhere.status, elsewhere.text()).toBe(200);
  });
});
