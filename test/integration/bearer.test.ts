// Bearer tokens end to end against real servers on 127.0.0.1: a JWT signed by the IdP's key is
// accepted for an API client, and every bad one is refused with 401 invalid_token.
import { SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { getJson } from '../support/http.ts';
import { idpSigningKey, startOidcSetup } from '../support/oidc.ts';
import { valuesNamed, seenAt } from '../support/identity-e2e.ts';
import { startUpstream } from '../support/upstream.ts';

describe('bearer tokens', () => {
  type IdpKey = Awaited<ReturnType<typeof idpSigningKey>>;

  const claims = (o: Partial<JWTPayload> = {}): JWTPayload => ({ email: 'svc-1@example.com', groups: ['ml-admins'], ...o });

  async function mint(
    key: IdpKey,
    iss: string,
    o: { aud?: string; exp?: number; iat?: number; payload?: JWTPayload; signWith?: CryptoKey | Uint8Array; alg?: string } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(o.payload ?? claims())
      .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: key.kid, typ: 'JWT' })
      .setIssuer(iss)
      .setAudience(o.aud ?? 'mlflow-api')
      .setSubject('svc-1')
      .setIssuedAt(o.iat ?? now)
      .setExpirationTime(o.exp ?? now + 300)
      .sign(o.signWith ?? key.privateKey);
  }

  /** Change one character in the middle of a base64url segment (never the padding bits at its end). */
  function flip(segment: string): string {
    const i = Math.floor(segment.length / 2);
    return segment.slice(0, i) + (segment[i] === 'A' ? 'B' : 'A') + segment.slice(i + 1);
  }

  it('accepts a valid IdP-signed JWT and refuses every bad one with 401 invalid_token', async () => {
    const up = await startUpstream();
    const key = await idpSigningKey();
    const { gh, idp } = await startOidcSetup(up.url, { provider: { bearer_audiences: ['mlflow-api'] }, idp: { jwks: key.jwks } });
    const call = (path: string, token?: string) =>
      getJson(`${gh.url}${path}`, token === undefined ? {} : { authorization: `Bearer ${token}` });

    const good = await mint(key, idp.issuer);
    const ok = await call('/admin/ok', good);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const s = seenAt(up.seen, '/admin/ok');
    expect(valuesNamed(s, 'x-forwarded-user')).toEqual(['svc-1@example.com']);
    expect(valuesNamed(s, 'x-forwarded-groups')).toEqual(['ml-admins']);

    const now = Math.floor(Date.now() / 1000);
    const [h, p, sig] = good.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), email: 'root@example.com' }),
    ).toString('base64url');
    const modulus = Buffer.from((key.jwks.keys[0] as { n: string }).n, 'base64url');
    const bad: Record<string, string> = {
      'tampered signature': `${h}.${p}.${flip(sig)}`,
      'tampered payload': `${h}.${forgedPayload}.${sig}`,
      'wrong audience': await mint(key, idp.issuer, { aud: 'some-other-api' }),
      expired: await mint(key, idp.issuer, { iat: now - 1200, exp: now - 600 }),
      'alg none': new UnsecuredJWT(claims())
        .setIssuer(idp.issuer)
        .setAudience('mlflow-api')
        .setSubject('svc-1')
        .setIssuedAt()
        .setExpirationTime('5m')
        .encode(),
      'HS256 with the public modulus as secret': await mint(key, idp.issuer, { alg: 'HS256', signWith: modulus }),
      'HS256 with a random secret': await mint(key, idp.issuer, { alg: 'HS256', signWith: new Uint8Array(32).fill(7) }),
      'unknown issuer': await mint(key, 'https://idp.evil.example'),
      'not a JWT': 'not-a-jwt',
    };
    for (const [why, token] of Object.entries(bad)) {
      const r = await call(`/admin/${encodeURIComponent(why)}`, token);
      expect(r.status, why).toBe(401);
      expect(r.body.error, why).toBe('GH_BAD_TOKEN');
      expect(r.headers['www-authenticate'], why).toBe('Bearer error="invalid_token"');
    }
    // Without any credentials, an API client is asked for a bearer token.
    const none = await call('/admin/none');
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('GH_UNAUTHENTICATED');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    // Only the good token ever reached the upstream.
    expect(up.seen.filter((x) => x.url.startsWith('/admin/')).map((x) => x.url)).toEqual(['/admin/ok']);
  });
});
