// SCIM 2.0 provisioning end to end (issue 19): two Gatehouse replicas sharing one real Redis, the
// request sequences Okta and Entra ID publish (test/fixtures/scim/*.json) sent to replica A, and
// their effects seen on replica B: directory state and groups, deactivation ending the user's
// sessions and WebSockets (1008 "session revoked") within 1 s, a group removal closing a
// group-protected route on the next request, sign-in refused while inactive.
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream, type TestUpstream } from '../support/upstream.ts';

const SCIM_TOKEN = 'scim-token-0f9c2b7e41d84a6c9e3b5a7d2c1f8e60';
const ADMIN_TOKEN = 'admin-token-for-scim-tests-7c1e';
const SECRET = 'scim-session-secret-for-tests-0123456789';

interface Step {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly status: number;
  readonly expect?: Record<string, unknown>;
  readonly absent?: readonly string[];
  readonly save?: string;
  /** The user's SCIM groups afterwards, as replica B's admin API reports them. */
  readonly groups?: readonly string[];
  /** The user's SCIM active state afterwards, as replica B reports it. */
  readonly active?: boolean;
}
interface Recording {
  readonly userAgent: string;
  readonly user: string;
  readonly steps: readonly Step[];
}

const recording = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/scim/${name}.json`, import.meta.url), 'utf8')) as Recording;

function config(up: TestUpstream, prefix: string, scim: Record<string, unknown> = {}) {
  return {
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    session: {
      store: 'redis',
      redis: { url: redisUrl(), key_prefix: prefix },
      secret: SECRET,
      cookie: { secure: false },
    },
    scim: { token: SCIM_TOKEN, ...scim },
    routes: [
      { name: 'admin-area', path: '/admin-area', upstream: up.url, allow: { groups: ['ml-admins'] } },
      { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
    ],
  };
}

async function twoReplicas(up: TestUpstream, scim: Record<string, unknown> = {}): Promise<[StartedGatehouse, StartedGatehouse]> {
  const prefix = uniquePrefix();
  return Promise.all([startTestGatehouse(config(up, prefix, scim)), startTestGatehouse(config(up, prefix, scim))]);
}

async function scim(gh: StartedGatehouse, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${gh.url}/.gatehouse/scim/v2${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${SCIM_TOKEN}`,
      accept: 'application/scim+json',
      ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

const adminUser = async (gh: StartedGatehouse, user: string) => {
  const res = await request(`${gh.adminUrl}/admin/users/${encodeURIComponent(user)}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return (await res.body.json()) as any;
};

async function signIn(gh: StartedGatehouse, user: string, groups: readonly string[] = []) {
  const s = await gh.current().sessions.create({ user, email: user, groups, idp: 'corp', method: 'test' });
  return { cookie: `gatehouse=${s.cookieValue}`, key: s.key };
}

const get = async (gh: StartedGatehouse, path: string, cookie: string) => {
  const res = await request(`${gh.url}${path}`, { headers: { accept: 'application/json', cookie } });
  const body = (await res.body.json().catch(() => undefined)) as any;
  return { status: res.statusCode, body };
};

function openWs(url: string, cookie: string) {
  return new Promise<{ ws: WebSocket; closed: Promise<{ at: number; code: number; reason: string }> }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie } });
    const closed = new Promise<{ at: number; code: number; reason: string }>((r) =>
      ws.once('close', (code, reason) => r({ at: Date.now(), code, reason: reason.toString() })),
    );
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`unexpected ${res.statusCode}`)));
  });
}

/** Fill {{name}} placeholders with the ids the server returned. */
const fill = (text: string, saved: Record<string, string>) => text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => saved[k] ?? `{{${k}}}`);

async function replay(
  name: string,
  a: StartedGatehouse,
  b: StartedGatehouse,
  onStep?: (step: Step, saved: Record<string, string>) => Promise<void>,
) {
  const rec = recording(name);
  const saved: Record<string, string> = {};
  for (const step of rec.steps) {
    const body = step.body === undefined ? undefined : fill(JSON.stringify(step.body), saved);
    const r = await scim(a, step.method, fill(step.path, saved), body, { 'user-agent': rec.userAgent });
    expect(r.status, `${name}: ${step.name}: ${JSON.stringify(r.body)}`).toBe(step.status);
    if (r.status !== 204) expect(r.headers['content-type'], step.name).toBe('application/scim+json');
    if (step.save) saved[step.save] = r.body.id;
    if (step.expect) expect(r.body, `${name}: ${step.name}`).toMatchObject(JSON.parse(fill(JSON.stringify(step.expect), saved)));
    for (const key of step.absent ?? []) expect(r.body, step.name).not.toHaveProperty(key);
    // The other replica sees the change (its cache follows the change notifications).
    if (step.active !== undefined) expect((await adminUser(b, rec.user)).scim.active, `${name}: ${step.name}`).toBe(step.active);
    if (step.groups !== undefined) {
      await expect
        .poll(async () => (await adminUser(b, rec.user)).groups.filter((g: any) => g.source === 'scim').map((g: any) => g.name), {
          timeout: 5000,
        })
        .toEqual(step.groups);
    }
    await onStep?.(step, saved);
  }
  return { rec, saved };
}

describe('SCIM 2.0 with two replicas on one Redis (issue 19)', () => {
  it("replays Okta's published sequence: create, PUT update, push group, members, PUT deactivate, reactivate, delete", async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const rec = recording('okta');
    const { cookie } = await signIn(b, rec.user);
    await replay('okta', a, b, async (step) => {
      // While active, the user's session works on B; deactivation ends it there.
      if (step.name === 'update user (PUT)') expect((await get(b, '/x', cookie)).status).toBe(200);
      if (step.name === 'deactivate user (PUT active:false)') expect((await get(b, '/x', cookie)).status).toBe(401);
    });
    // Deleted: the SCIM entry is gone, an inactive marker still refuses the user.
    const after = await adminUser(b, rec.user);
    expect(after.scim).toMatchObject({ known: true, active: false, source: 'signal' });
    const fresh = await signIn(b, rec.user);
    const refused = await get(b, '/x', fresh.cookie);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('GH_ACCOUNT_DISABLED');
  });

  it("replays Entra ID's published sequence: Replace ops, string booleans, member add/remove by value array, rename", async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const rec = recording('entra');
    const { cookie } = await signIn(a, rec.user);
    await replay('entra', a, b, async (step) => {
      if (step.name === 'update group, add members') expect((await get(b, '/admin-area/x', cookie)).status).toBe(200);
      if (step.name === 'disable user (string boolean)') expect((await get(b, '/x', cookie)).status).toBe(401);
    });
  });

  it('deactivation on A: the user is refused on B and their WebSocket (1008) and event stream on B end within 1 s, PAT too', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const user = 'dana@corp.example';
    const created = await scim(a, 'POST', '/Users', { userName: user, emails: [{ value: user, primary: true }], active: true });
    expect(created.status).toBe(201);
    const s = await signIn(a, user);
    expect((await get(b, '/x', s.cookie)).status).toBe(200);
    const pat = await a.current().pats.create({ owner: { user, groups: [], idp: 'corp' }, name: 'job', routes: ['app'], by: 'user' });
    const withPat = async (gh: StartedGatehouse) =>
      (await request(`${gh.url}/x`, { headers: { authorization: `Bearer ${pat.token}` } }).then(async (r) => (await r.body.dump(), r)))
        .statusCode;
    expect(await withPat(b)).toBe(200);
    expect((await adminUser(b, user)).tokens).toHaveLength(1);
    const { closed } = await openWs(`${b.url.replace('http', 'ws')}/api/kernels/1/channels`, s.cookie);
    // An event stream on B too: it ends with Gatehouse's final event.
    const sse = await request(`${b.url}/sse`, { headers: { cookie: s.cookie, accept: 'text/event-stream' } });
    expect(sse.statusCode).toBe(200);
    const streamed = (async () => {
      let text = '';
      for await (const chunk of sse.body) text += chunk.toString();
      return text;
    })();
    const at = Date.now();
    const r = await scim(a, 'PATCH', `/Users/${created.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(r.status).toBe(200);
    const close = await closed;
    expect(close.code).toBe(1008);
    expect(close.reason).toBe('session revoked');
    expect(close.at - at).toBeLessThan(1000);
    expect(await streamed).toMatch(/event: gatehouse-session-ended\ndata: session revoked\n\n$/);
    await expect.poll(async () => (await get(b, '/x', s.cookie)).status, { timeout: 1000 }).toBe(401);
    // The personal access token ended with the sessions.
    expect(await withPat(b)).toBe(401);
    expect((await adminUser(b, user)).tokens).toEqual([]);
    // A session that appears anyway (made before SCIM told us, say) is refused by the directory check.
    const late = await signIn(b, user);
    expect((await get(b, '/x', late.cookie)).body.error).toBe('GH_ACCOUNT_DISABLED');
    // Reactivated: allowed again.
    await scim(a, 'PATCH', `/Users/${created.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { active: true } }],
    });
    await expect.poll(async () => (await get(b, '/x', late.cookie)).status, { timeout: 2000 }).toBe(200);
  });

  it('a group removal closes the group-protected route on the next request (replace), and merge keeps token groups', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const user = 'erin@corp.example';
    const u = await scim(a, 'POST', '/Users', { userName: user, active: true });
    const g = await scim(a, 'POST', '/Groups', { displayName: 'ml-admins', members: [{ value: u.body.id }] });
    expect(g.status).toBe(201);
    // The sign-in token said nothing about ml-admins: SCIM's groups decide (replace).
    const s = await signIn(b, user, ['from-token']);
    expect((await get(a, '/admin-area/x', s.cookie)).status).toBe(200);
    expect((await get(b, '/admin-area/x', s.cookie)).status).toBe(200);
    // Identity headers carry the groups policy saw: SCIM's, not the token's.
    expect(up.seen.at(-1)!.headers['x-forwarded-groups']).toBe('ml-admins');
    const r = await scim(a, 'PATCH', `/Groups/${g.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'remove', path: `members[value eq "${u.body.id}"]` }],
    });
    expect(r.status).toBe(200);
    // A drops its cached state when it makes the change: its very next request is refused.
    expect((await get(a, '/admin-area/x', s.cookie)).status).toBe(403);
    await expect.poll(async () => (await get(b, '/admin-area/x', s.cookie)).status, { timeout: 1000 }).toBe(403);
    expect((await adminUser(b, user)).groups).toEqual([{ name: 'from-token', source: 'token', applied: false }]);
  });

  it('merge: SCIM groups are added to the sign-in token groups', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up, { groups: 'merge' });
    const user = 'finn@corp.example';
    const u = await scim(a, 'POST', '/Users', { userName: user, active: true });
    await scim(a, 'POST', '/Groups', { displayName: 'ml-admins', members: [{ value: u.body.id }] });
    const s = await signIn(b, user, ['from-token']);
    expect((await get(b, '/admin-area/x', s.cookie)).status).toBe(200);
    expect((await adminUser(b, user)).groups).toEqual([
      { name: 'ml-admins', source: 'scim', applied: true },
      { name: 'from-token', source: 'token', applied: true },
    ]);
  });

  it('refuses a bad token (401), a bad filter (400 invalidFilter), an oversize body (413), and too many requests (429)', async () => {
    const up = await startUpstream();
    const [a] = await twoReplicas(up, { max_body: '1KB', rate_limit: 12 });
    const bad = await scim(a, 'GET', '/Users', undefined, { authorization: 'Bearer wrong-token' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '401',
      detail: 'a valid bearer token (scim.token) is required',
    });
    expect((await scim(a, 'GET', '/Users', undefined, { authorization: '' })).status).toBe(401);
    const filter = await scim(a, 'GET', `/Users?filter=${encodeURIComponent('userName co "x"')}`);
    expect(filter.status).toBe(400);
    expect(filter.body).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    const unknownAttr = await scim(a, 'GET', `/Users?filter=${encodeURIComponent('title eq "x"')}`);
    expect(unknownAttr.body.scimType).toBe('invalidFilter');
    const big = await scim(a, 'POST', '/Users', { userName: 'x@corp.example', displayName: 'y'.repeat(2000) });
    expect(big.status).toBe(413);
    expect(big.body.status).toBe('413');
    const syntax = await scim(a, 'POST', '/Users', '{"userName":');
    expect(syntax.body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
    expect((await scim(a, 'GET', '/Users/no-such-id')).status).toBe(404);
    for (const path of ['/ServiceProviderConfig', '/ResourceTypes', '/Schemas']) expect((await scim(a, 'GET', path)).status).toBe(200);
    let limited: Awaited<ReturnType<typeof scim>> | undefined;
    for (let i = 0; i < 20 && !limited; i++) {
      const r = await scim(a, 'GET', '/ServiceProviderConfig');
      if (r.status === 429) limited = r;
    }
    expect(limited?.body.status).toBe('429');
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('concurrent PATCHes of one group on both replicas lose no member (one change at a time per resource)', async () => {
    const up = await startUpstream();
    const [a, b] = await twoReplicas(up);
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) ids.push((await scim(a, 'POST', '/Users', { userName: `c${n}@corp.example` })).body.id);
    const g = await scim(a, 'POST', '/Groups', { displayName: 'ml-admins' });
    const results = await Promise.all(
      ids.map((id, n) =>
        scim(n % 2 ? b : a, 'PATCH', `/Groups/${g.body.id}`, {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }],
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 200));
    const after = await scim(b, 'GET', `/Groups/${g.body.id}`);
    expect(after.body.members.map((m: any) => m.value).sort()).toEqual([...ids].sort());
  });

  it('pagination: startIndex and count over the users list', async () => {
    const up = await startUpstream();
    const [a] = await twoReplicas(up);
    for (const n of [1, 2, 3, 4, 5]) expect((await scim(a, 'POST', '/Users', { userName: `p${n}@corp.example` })).status).toBe(201);
    const page = await scim(a, 'GET', '/Users?startIndex=2&count=2');
    expect(page.body).toMatchObject({ totalResults: 5, itemsPerPage: 2, startIndex: 2 });
    const all = await scim(a, 'GET', '/Users?count=100');
    expect(page.body.Resources.map((u: any) => u.id)).toEqual(all.body.Resources.slice(1, 3).map((u: any) => u.id));
  });
});
