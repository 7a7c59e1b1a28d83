// Service identities (issue 16 item 3): a client-credentials token names a client, not a person —
// no e-mail, no groups. `identity_providers[].service_accounts` maps its client id to a user name
// and groups, so a route's group policy admits it. Tokens are signed with the real demo IdP's key
// and checked against its published JWKS; requests land on a spy upstream.
import { SignJWT } from 'jose';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { idpSigningKey, startOidcSetup } from '../support/oidc.ts';
import { startSpyUpstream } from '../support/spy-upstream.ts';

describe('service_accounts', () => {
  it('maps a client-credentials token to its configured user and groups; unlisted clients and person tokens are unchanged', async () => {
    const spy = await startSpyUpstream();
    const key = await idpSigningKey();
    const { gh, idp } = await startOidcSetup(spy.url, {
      provider: {
        bearer_audiences: ['ml-api'],
        service_accounts: { 'etl-nightly': { user: 'svc-etl', groups: ['ml-engineers'] }, 'bare-client': {} },
      },
      idp: { jwks: key.jwks },
      routes: [
        { name: 'mlflow', path: '/mlflow', upstream: spy.url, allow: { groups: ['ml-engineers'] } },
        { name: 'app', path: '/', upstream: spy.url, allow: { authenticated: true } },
      ],
    });
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, sub: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })
        .setIssuer(idp.issuer)
        .setAudience('ml-api')
        .setSubject(sub)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(key.privateKey);
    const get = async (path: string, token: string) => {
      const r = await request(`${gh.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await r.body.dump();
      return { status: r.statusCode, seen: spy.requests().find((s) => s.target === path) };
    };

    // RFC 9068 client_id: the configured user and groups; group policy admits it.
    const etl = await get('/mlflow/runs', await sign({ client_id: 'etl-nightly' }, 'etl-nightly'));
    expect(etl.status).toBe(200);
    expect(etl.seen?.header('x-forwarded-user')).toBe('svc-etl');
    expect(etl.seen?.header('x-forwarded-groups')).toBe('ml-engineers');
    // Entra-style azp with a subject that is not the client id: the same mapping.
    const azp = await get('/mlflow/azp', await sign({ azp: 'etl-nightly' }, '6f1c-service-principal'));
    expect([azp.status, azp.seen?.header('x-forwarded-user')]).toEqual([200, 'svc-etl']);
    // Listed without a user: known by its client id, no groups — not in ml-engineers.
    const bare = await get('/mlflow/bare', await sign({ client_id: 'bare-client' }, 'bare-client'));
    expect(bare.status).toBe(403);
    const bareApp = await get('/bare-app', await sign({ client_id: 'bare-client' }, 'bare-client'));
    expect([bareApp.status, bareApp.seen?.header('x-forwarded-user')]).toEqual([200, 'bare-client']);
    // An unlisted client keeps the plain subject fallback, without groups: refused by group policy.
    expect((await get('/mlflow/other', await sign({ client_id: 'someone-else' }, 'someone-else'))).status).toBe(403);
    // A person's token obtained by a listed client is the person's, not the service's.
    const person = await get('/app-person', await sign({ client_id: 'etl-nightly', email: 'dana@corp.example' }, 'dana'));
    expect([person.status, person.seen?.header('x-forwarded-user')]).toEqual([200, 'dana@corp.example']);
    expect(person.seen?.header('x-forwarded-groups') ?? '').not.toContain('ml-engineers');
  });
});
