// SCIM and sign-in through a real OpenID provider (the demo IdP): a user SCIM deactivated is
// refused at the end of the sign-in with a clear page (no session is made, login_failed is
// recorded), reactivation lets them in again, and SCIM's groups replace the ID token's.
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { startOidcSetup, USERS } from '../support/oidc.ts';
import { startUpstream } from '../support/upstream.ts';

const SCIM_TOKEN = 'scim-token-for-sign-in-tests-5d2e8a1c7b9f';

async function scim(url: string, method: string, path: string, body?: unknown) {
  const res = await request(`${url}/.gatehouse/scim/v2${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as any) : undefined };
}

const active = (value: boolean) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
  Operations: [{ op: 'Replace', path: 'active', value: value ? 'True' : 'False' }],
});

describe('SCIM and sign-in (issue 19)', () => {
  it('a deactivated user is refused at sign-in with a clear page; reactivated, they sign in again', async () => {
    const up = await startUpstream();
    const { gh } = await startOidcSetup(up.url, { scim: { token: SCIM_TOKEN } });
    const alice = await scim(gh.url, 'POST', '/Users', {
      userName: 'alice@example.com',
      emails: [{ value: 'alice@example.com', primary: true }],
      active: true,
    });
    expect(alice.status).toBe(201);
    expect((await scim(gh.url, 'PATCH', `/Users/${alice.body.id}`, active(false))).status).toBe(200);

    const refused = await new TestBrowser().go(`${gh.url}/experiments`, USERS.alice);
    expect(refused.status).toBe(403);
    expect(refused.url).toContain('/.gatehouse/oidc/corp/callback');
    expect(refused.body).toContain('Account disabled');
    expect(refused.body).toContain('deactivated by your organization');
    expect(refused.headers['set-cookie'] ?? '').not.toMatch(/gatehouse=[A-Za-z0-9_-]{43}\./);
    expect(await gh.current().sessions.list('alice@example.com')).toEqual([]);

    expect((await scim(gh.url, 'PATCH', `/Users/${alice.body.id}`, active(true))).status).toBe(200);
    const browser = new TestBrowser();
    const page = await browser.go(`${gh.url}/experiments`, USERS.alice);
    expect(page.status).toBe(200);
    // scim.groups: replace — the ID token says ml-admins, SCIM says no groups: /admin is closed.
    const cookie = `gatehouse=${browser.jar.get(gh.url, 'gatehouse')}`;
    expect((await getJson(`${gh.url}/admin/x`, { cookie })).status).toBe(403);
    await scim(gh.url, 'POST', '/Groups', { displayName: 'ml-admins', members: [{ value: alice.body.id }] });
    expect((await getJson(`${gh.url}/admin/x`, { cookie })).status).toBe(200);
  });
});
