// Personal access tokens end to end (issue 16 item 3): two Gatehouse replicas sharing a real Redis,
// a spy upstream that records exactly what arrives. Created, listed and revoked through the page
// (/.gatehouse/tokens, CSRF enforced) and the admin API; the store holds hashes only; scoped to
// routes; expired and revoked tokens refused — a revocation on one replica holds on the other at
// its very next request (no cache: well inside a second); creation rate-limited per user; every
// use in the audit trail with the token's id and name, never the token.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { patHash } from '../../src/auth/bearer/pat.ts';
import { parseRecords, readNdjson, type AuditRecord } from '../support/audit.ts';
import { inspector, redisUrl, uniquePrefix } from '../support/redis.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { startSpyUpstream, type SpyUpstream } from '../support/spy-upstream.ts';

const ADMIN_TOKEN = 'admin-token-for-pat-tests-0123456789';
const ALICE = { user: 'alice@corp.example', email: 'alice@corp.example', name: 'Alice', groups: ['ml'], idp: 'corp', method: 'test' };
const PAT_SHAPE = /gatehouse_pat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;

function config(spy: SpyUpstream, prefix: string, auditFile: string, pat: Record<string, unknown> = {}) {
  return {
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    audit: { sinks: [{ type: 'file', path: auditFile }] },
    session: {
      store: 'redis',
      redis: { url: redisUrl(), key_prefix: prefix },
      secret: 'pat-test-session-secret-0123456789abcdef',
      cookie: { secure: false },
    },
    tokens: { pat: { create_rate: 5, ...pat } },
    routes: [
      { name: 'mlflow', path: '/mlflow', upstream: spy.url, allow: { groups: ['ml'] } },
      { name: 'labels', path: '/labels', upstream: spy.url, allow: { groups: ['ml'] } },
      { name: 'app', path: '/', upstream: spy.url, allow: { authenticated: true } },
    ],
  };
}

async function setUp(pat: Record<string, unknown> = {}) {
  const spy = await startSpyUpstream();
  const prefix = uniquePrefix();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pats-'));
  const auditA = join(dir, 'a.ndjson');
  const [a, b] = await Promise.all([
    startTestGatehouse(config(spy, prefix, auditA, pat)),
    startTestGatehouse(config(spy, prefix, join(dir, 'b.ndjson'), pat)),
  ]);
  const s = await a.current().sessions.create(ALICE);
  return { spy, prefix, a, b, auditA, cookie: `gatehouse=${s.cookieValue}` };
}

type Headers = Record<string, string>;
async function call(gh: StartedGatehouse, method: string, path: string, headers: Headers = {}, body?: string) {
  const r = await request(`${gh.url}${path}`, { method: method as 'GET', headers, ...(body === undefined ? {} : { body }) });
  const text = await r.body.text();
  return { status: r.statusCode, text, headers: r.headers, json: () => JSON.parse(text) as Record<string, any> };
}
const page = (cookie: string): Headers => ({ cookie, accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
const form = (cookie: string): Headers => ({ ...page(cookie), 'content-type': 'application/x-www-form-urlencoded' });
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const admin = (gh: StartedGatehouse, method: string, path: string, body?: unknown) =>
  request(`${gh.adminUrl}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then(async (r) => ({ status: r.statusCode, json: (await r.body.json()) as Record<string, any> }));

describe('personal access tokens', () => {
  it('the page creates (CSRF enforced), lists and revokes; the token is scoped, hashed, audited, and revoked on every replica at once', async () => {
    const { spy, prefix, a, b, auditA, cookie } = await setUp();

    // The page, on every host: a form with the session's CSRF token.
    const shown = await call(a, 'GET', '/.gatehouse/tokens', page(cookie));
    expect(shown.status).toBe(200);
    expect(shown.headers['content-type']).toMatch(/^text\/html/);
    expect(shown.text).toContain('You have no tokens.');
    const csrf = csrfOf(shown.text);
    expect(csrf).not.toBe('');

    // Creating without the CSRF token, or with another, is refused — nothing is created.
    const fields = 'action=create&name=nightly+import&routes=mlflow&expires_in_days=30';
    for (const bad of ['', '&csrf=not-the-token', `&csrf=${csrf.slice(0, -2)}xx`]) {
      const r = await call(a, 'POST', '/.gatehouse/tokens', form(cookie), fields + bad);
      expect(r.status, bad).toBe(403);
      expect(r.text).toContain('Form expired');
    }
    // Without a session there is no page: a browser is sent to sign in, a script gets JSON.
    expect((await call(a, 'GET', '/.gatehouse/tokens', { accept: 'text/html' })).headers.location).toMatch(/^\/\.gatehouse\/login\?rd=/);
    const anonymous = await call(a, 'POST', '/.gatehouse/tokens', { 'content-type': 'application/json' }, '{}');
    expect([anonymous.status, anonymous.json().error]).toEqual([401, 'GH_UNAUTHENTICATED']);

    const created = await call(a, 'POST', '/.gatehouse/tokens', form(cookie), `${fields}&csrf=${encodeURIComponent(csrf)}`);
    expect(created.status, created.text).toBe(201);
    const token = PAT_SHAPE.exec(created.text)?.[0] ?? '';
    expect(token).not.toBe('');
    expect(created.text).toContain('shown only this once');

    // Listed as JSON on the other replica: metadata only, never the token.
    const listed = await call(b, 'GET', '/.gatehouse/tokens', { cookie, accept: 'application/json' });
    expect(listed.status).toBe(200);
    expect(listed.json().tokens).toMatchObject([{ name: 'nightly import', routes: ['mlflow'], user: ALICE.user, last_used_at: null }]);
    expect(listed.text).not.toContain(token);
    const id = listed.json().tokens[0].id as string;
    expect(token).toContain(id);

    // Used on its route (MLflow-style Authorization: Bearer) on replica B: the user's identity goes upstream.
    const used = await call(b, 'GET', '/mlflow/api/2.0/mlflow/experiments/list', { authorization: `Bearer ${token}` });
    expect(used.status, used.text).toBe(200);
    const seen = spy.requests().find((r) => r.target === '/mlflow/api/2.0/mlflow/experiments/list');
    expect(seen?.header('x-forwarded-user')).toBe(ALICE.user);
    expect(seen?.header('x-forwarded-groups')).toBe('ml');
    // The token is Gatehouse's, not the tool's: it does not go upstream.
    expect(seen?.headerAll('authorization')).toEqual([]);
    expect(seen?.raw.toString('latin1').includes(token)).toBe(false);
    // Label-Studio-style: Gatehouse's credential in Proxy-Authorization, the tool's own Authorization
    // reaches the upstream alone.
    const tool = await call(a, 'GET', '/mlflow/tool', { 'proxy-authorization': `Bearer ${token}`, authorization: 'Token tool-key-42' });
    expect(tool.status, tool.text).toBe(200);
    const toolSeen = spy.requests().find((r) => r.target === '/mlflow/tool');
    expect(toolSeen?.headerAll('authorization')).toEqual(['Token tool-key-42']);
    expect(toolSeen?.headerAll('proxy-authorization')).toEqual([]);

    // Scope: on a route not in its list it is no credential — 403, nothing proxied.
    const outside = await call(a, 'GET', '/labels/api/projects', { authorization: `Bearer ${token}` });
    expect([outside.status, outside.json().error]).toEqual([403, 'GH_FORBIDDEN']);
    expect(spy.requests().some((r) => r.target === '/labels/api/projects')).toBe(false);

    // The store holds the hash, never the token or its secret part: every key and value scanned.
    const redis = inspector();
    const keys = await redis.keys(`${prefix}*`);
    expect(keys).toContain(`${prefix}pat:${id}`);
    const secretPart = token.slice(token.lastIndexOf('_') + 1);
    let scanned = '';
    for (const k of keys) {
      const type = await redis.type(k);
      const value =
        type === 'string'
          ? await redis.get(k)
          : type === 'set'
            ? (await redis.smembers(k)).join(' ')
            : JSON.stringify(await redis.hgetall(k));
      scanned += `${k}=${value}\n`;
    }
    expect(scanned).toContain(patHash(token));
    expect(scanned.includes(token)).toBe(false);
    expect(scanned.includes(secretPart)).toBe(false);

    // Last used shows on the page.
    await expect
      .poll(
        async () => (await call(a, 'GET', '/.gatehouse/tokens', { cookie, accept: 'application/json' })).json().tokens[0].last_used_at,
        { timeout: 5000 },
      )
      .not.toBeNull();

    // Revoked through the page on replica A (a form, CSRF checked) …
    const listPage = await call(a, 'GET', '/.gatehouse/tokens', page(cookie));
    expect(listPage.text).toContain(id);
    const noCsrf = await call(a, 'POST', '/.gatehouse/tokens', form(cookie), `action=revoke&id=${id}`);
    expect(noCsrf.status).toBe(403);
    expect((await call(b, 'GET', '/mlflow/still', { authorization: `Bearer ${token}` })).status).toBe(200);
    const revoked = await call(
      a,
      'POST',
      '/.gatehouse/tokens',
      form(cookie),
      `action=revoke&id=${id}&csrf=${encodeURIComponent(csrfOf(listPage.text))}`,
    );
    expect(revoked.status).toBe(200);
    expect(revoked.text).toContain('revoked');
    // … and refused by replica B at its very next request.
    const after = await call(b, 'GET', '/mlflow/after', { authorization: `Bearer ${token}` });
    expect([after.status, after.json().error]).toEqual([401, 'GH_BAD_TOKEN']);
    expect(spy.requests().some((r) => r.target === '/mlflow/after')).toBe(false);

    // The audit trail: each use and refusal carries the token's id and name; the token is nowhere.
    const records = (): AuditRecord[] => parseRecords(readNdjson(auditA));
    await expect.poll(() => records().filter((r) => r.gatehouse?.token?.id === id).length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    const toolRecord = records().find((r) => r.url?.path === '/mlflow/tool');
    expect(toolRecord?.gatehouse.token).toEqual({ id, name: 'nightly import' });
    expect(toolRecord?.user.name).toBe(ALICE.user);
    const outsideRecord = records().find((r) => r.url?.path === '/labels/api/projects');
    expect(outsideRecord?.gatehouse).toMatchObject({ token: { id, name: 'nightly import' }, error_code: 'GH_FORBIDDEN' });
    const trail = readNdjson(auditA).join('\n');
    expect(trail.includes(token)).toBe(false);
    expect(trail.includes(secretPart)).toBe(false);
  });

  it('JSON API: X-CSRF-Token required, JSON errors, per-user creation rate limit, DELETE revokes', async () => {
    const { a, cookie } = await setUp({ create_rate: 3 });
    const json = { cookie, accept: 'application/json', 'content-type': 'application/json' };
    const csrf = (await call(a, 'GET', '/.gatehouse/tokens', { cookie, accept: 'application/json' })).json().csrf as string;
    const body = JSON.stringify({ name: 'ci', routes: ['mlflow'], expires_in_days: 7 });

    const missing = await call(a, 'POST', '/.gatehouse/tokens', json, body);
    expect([missing.status, missing.json().error]).toEqual([403, 'GH_BAD_CSRF']);
    const wrong = await call(a, 'POST', '/.gatehouse/tokens', { ...json, 'x-csrf-token': 'x'.repeat(43) }, body);
    expect([wrong.status, wrong.json().error]).toEqual([403, 'GH_BAD_CSRF']);

    const withCsrf = { ...json, 'x-csrf-token': csrf };
    const unknownRoute = await call(a, 'POST', '/.gatehouse/tokens', withCsrf, JSON.stringify({ name: 'x', routes: ['nope'] }));
    expect([unknownRoute.status, unknownRoute.json().error]).toEqual([400, 'GH_BAD_REQUEST']);
    expect(unknownRoute.json().message).toContain('nope');
    const tooLong = await call(
      a,
      'POST',
      '/.gatehouse/tokens',
      withCsrf,
      JSON.stringify({ name: 'x', routes: ['mlflow'], expires_in_days: 91 }),
    );
    expect([tooLong.status, tooLong.json().error]).toEqual([400, 'GH_BAD_REQUEST']);
    expect(tooLong.json().message).toContain('90 days');

    // create_rate: 3 per hour, counted across attempts that got as far as creating.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(a, 'POST', '/.gatehouse/tokens', withCsrf, body);
      expect(r.status, r.text).toBe(201);
      expect(r.json().token).toMatch(PAT_SHAPE);
      expect(r.json().expires_at).toBeDefined();
      ids.push(r.json().id as string);
    }
    const limited = await call(a, 'POST', '/.gatehouse/tokens', withCsrf, body);
    expect([limited.status, limited.json().error]).toEqual([429, 'GH_TOO_MANY_TOKENS']);

    // DELETE /.gatehouse/tokens/<id>: CSRF header required; someone else's id is unknown.
    expect((await call(a, 'DELETE', `/.gatehouse/tokens/${ids[0]}`, { cookie, accept: 'application/json' })).status).toBe(403);
    const del = await call(a, 'DELETE', `/.gatehouse/tokens/${ids[0]}`, withCsrf);
    expect(del.json()).toEqual({ revoked: 1, id: ids[0] });
    const again = await call(a, 'DELETE', `/.gatehouse/tokens/${ids[0]}`, withCsrf);
    expect([again.status, again.json().error]).toEqual([404, 'GH_NOT_FOUND']);
    const list = (await call(a, 'GET', '/.gatehouse/tokens', { cookie, accept: 'application/json' })).json().tokens as { id: string }[];
    expect(list.map((t) => t.id)).toEqual(ids.slice(1));

    // A token cannot manage tokens: the page is for sessions.
    const bob = await admin(a, 'POST', '/admin/tokens', { user: 'bob@corp.example', name: 'b', routes: ['mlflow'], groups: ['ml'] });
    const byToken = await call(a, 'GET', '/.gatehouse/tokens', { authorization: `Bearer ${bob.json.token}`, accept: 'application/json' });
    expect(byToken.status).toBeGreaterThanOrEqual(400);
    expect(byToken.text).not.toContain('"tokens"');
  });

  it('admin API: create for a user, list, revoke one; revoking the user ends the rest; expired tokens are refused', async () => {
    const { a, b, prefix } = await setUp();
    const created = await admin(a, 'POST', '/admin/tokens', {
      user: 'svc-import@corp.example',
      name: 'label import',
      routes: ['mlflow', 'labels'],
      groups: ['ml'],
      expires_in_days: 10,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ user: 'svc-import@corp.example', name: 'label import', created_by: 'admin' });
    const token = created.json.token as string;
    const second = await admin(a, 'POST', '/admin/tokens', {
      user: 'svc-import@corp.example',
      name: 'two',
      routes: ['labels'],
      groups: ['ml'],
    });
    expect(second.status).toBe(201);
    expect((await admin(a, 'POST', '/admin/tokens', { name: 'no user', routes: ['labels'] })).status).toBe(400);

    const listed = await admin(b, 'GET', '/admin/tokens?user=svc-import%40corp.example');
    expect(listed.json.tokens.map((t: { name: string }) => t.name)).toEqual(['label import', 'two']);
    expect(JSON.stringify(listed.json)).not.toContain(token);
    expect((await admin(b, 'GET', '/admin/tokens')).json.tokens.length).toBeGreaterThanOrEqual(2);

    expect((await call(b, 'GET', '/labels/x', { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await admin(b, 'DELETE', `/admin/tokens/${created.json.id}`)).json).toEqual({ revoked: 1 });
    expect((await call(a, 'GET', '/labels/x', { authorization: `Bearer ${token}` })).status).toBe(401);
    expect((await admin(b, 'DELETE', `/admin/tokens/${created.json.id}`)).status).toBe(404);

    // DELETE /admin/users/<user>/sessions ends the user's tokens too.
    expect((await call(a, 'GET', '/labels/y', { authorization: `Bearer ${second.json.token}` })).status).toBe(200);
    const ended = await admin(b, 'DELETE', '/admin/users/svc-import%40corp.example/sessions');
    expect(ended.json).toEqual({ user: 'svc-import@corp.example', revoked: 0, tokens_revoked: 1 });
    expect((await call(a, 'GET', '/labels/z', { authorization: `Bearer ${second.json.token}` })).status).toBe(401);

    // A record past its expiresAt is refused even while its key still exists (clock skew between
    // replicas, a key written without a TTL): the verifier checks the time itself.
    const id = 'abcdef0123456789';
    const expired = `gatehouse_pat_${id}_${'A'.repeat(43)}`;
    const now = Date.now();
    await inspector().set(
      `${prefix}pat:${id}`,
      JSON.stringify({
        id,
        hash: patHash(expired),
        name: 'old',
        user: 'alice@corp.example',
        groups: ['ml'],
        idp: 'corp',
        routes: ['mlflow'],
        createdAt: now - 100_000,
        expiresAt: now - 1000,
        createdBy: 'user',
      }),
    );
    const refused = await call(a, 'GET', '/mlflow/old', { authorization: `Bearer ${expired}` });
    expect([refused.status, refused.json().error]).toEqual([401, 'GH_BAD_TOKEN']);
    // The same record made live again is accepted: the refusal was the time, not the shape.
    await inspector().set(
      `${prefix}pat:${id}`,
      JSON.stringify({ ...JSON.parse((await inspector().get(`${prefix}pat:${id}`)) ?? '{}'), expiresAt: now + 60_000 }),
    );
    expect((await call(a, 'GET', '/mlflow/old', { authorization: `Bearer ${expired}` })).status).toBe(200);
    // A guessed secret for a real id is refused.
    const guessed = `gatehouse_pat_${id}_${'B'.repeat(43)}`;
    expect((await call(a, 'GET', '/mlflow/old', { authorization: `Bearer ${guessed}` })).status).toBe(401);
  });
});

describe('the token page on every host', () => {
  it('answers on each served host (no route covers /.gatehouse/), and not on a host Gatehouse does not serve', async () => {
    const spy = await startSpyUpstream();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      session: { store: 'memory', cookie: { secure: false } },
      routes: [
        { name: 'mlflow', host: 'mlflow.corp.example', path: '/api', upstream: spy.url, allow: { authenticated: true } },
        { name: 'labels', host: 'labels.corp.example', upstream: spy.url, allow: { authenticated: true } },
      ],
    });
    const s = await gh.current().sessions.create(ALICE);
    const cookie = `${gh.current().config.session.cookie.name}=${s.cookieValue}`;
    for (const host of ['mlflow.corp.example', 'labels.corp.example']) {
      const r = await call(gh, 'GET', '/.gatehouse/tokens', { host, cookie, accept: 'application/json' });
      expect(r.status, host).toBe(200);
      expect(r.json().routes).toEqual(['mlflow', 'labels']);
    }
    const other = await call(gh, 'GET', '/.gatehouse/tokens', { host: 'elsewhere.example', cookie, accept: 'application/json' });
    expect([other.status, other.json().error]).toEqual([404, 'GH_NO_ROUTE']);
  });
});
