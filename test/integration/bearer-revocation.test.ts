// Issue 16: `DELETE /admin/users/<user>/sessions` also ends that user's IdP bearer JWTs. Two
// replicas share Redis; the user is revoked on the first; the second refuses a token issued
// before that moment as soon as the revocation notification arrives (within 1 s by the marker
// cache's bound otherwise), and accepts one issued afterwards.
import { SignJWT } from 'jose';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { idpSigningKey, startOidcSetup } from '../support/oidc.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream } from '../support/upstream.ts';

describe('bearer token revocation', () => {
  it('a token issued before the user was revoked is refused on the other replica; a newer one works', async () => {
    const up = await startUpstream();
    const key = await idpSigningKey();
    const { gh, others, idp } = await startOidcSetup(up.url, {
      replicas: 1,
      idp: { jwks: key.jwks },
      provider: { bearer_audiences: ['mlflow-api'] },
      session: { store: 'redis', redis: { url: redisUrl(), key_prefix: uniquePrefix() } },
    });
    const second = others[0]!;
    const mint = (iat: number) =>
      new SignJWT({ email: 'svc-1@example.com', groups: ['ml-admins'] })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
        .setIssuer(idp.issuer)
        .setAudience('mlflow-api')
        .setSubject('svc-1')
        .setIssuedAt(iat)
        .setExpirationTime(iat + 600)
        .sign(key.privateKey);
    const call = async (url: string, token: string) =>
      (await request(`${url}/app`, { headers: { authorization: `Bearer ${token}` } })).statusCode;

    const old = await mint(Math.floor(Date.now() / 1000) - 30);
    expect(await call(second.url, old)).toBe(200);
    expect(await call(gh.url, old)).toBe(200);

    let heard!: () => void;
    const notified = new Promise<void>((r) => (heard = r));
    second.current().sessions.store.onRevoked((keys) => keys?.some((k) => k.startsWith('nbf:')) && heard());
    const del = await request(`${gh.adminUrl}/admin/users/${encodeURIComponent('svc-1@example.com')}/sessions`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer oidc-test-admin-token' },
    });
    expect(del.statusCode).toBe(200);
    await del.body.dump();
    await Promise.race([notified, new Promise((r) => setTimeout(r, 1000).unref())]);
    expect(await call(second.url, old)).toBe(401);
    expect(await call(gh.url, old)).toBe(401);

    // Issued after the revocation (next whole second): accepted again.
    const fresh = await mint(Math.floor(Date.now() / 1000) + 1);
    expect(await call(second.url, fresh)).toBe(200);
  });
});
