// One JWKS cache per IdP (src/auth/oidc/jwks.ts): which algorithms it accepts, and when it fetches
// the key set again — against a real JWKS served on loopback, counting the fetches.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createIdpJwks, jwtRefusalReason, NoJwksUriError } from '../../../src/auth/oidc/jwks.ts';
import { ASYMMETRIC_ALGS } from '../../../src/config/algorithms.ts';

let server: Server;
let url: string;
let fetches = 0;
let published: JWK[] = [];

async function keyPair(alg: string, kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), alg, kid, use: 'sig' } as JWK };
}

const sign = (key: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'], alg: string, kid: string) =>
  new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg, kid }).setIssuedAt().setExpirationTime('5m').sign(key);

beforeAll(async () => {
  server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  fetches = 0;
  published = [];
});

describe('ASYMMETRIC_ALGS: the one list every JWT check uses', () => {
  it('has the RSA, RSA-PSS, ECDSA and EdDSA/Ed25519 families, and nothing symmetric or "none"', () => {
    for (const alg of ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']) expect(ASYMMETRIC_ALGS).toContain(alg);
    expect((ASYMMETRIC_ALGS as readonly string[]).filter((a) => a.startsWith('HS') || a === 'none')).toEqual([]);
  });

  it.each(['RS256', 'ES256', 'Ed25519', 'EdDSA'])('a token signed with %s verifies', async (alg) => {
    const k = await keyPair(alg === 'EdDSA' ? 'Ed25519' : alg, `k-${alg}`);
    published = [{ ...k.jwk, alg }];
    const { payload } = await createIdpJwks(() => url).verify(await sign(k.privateKey, alg, `k-${alg}`));
    expect(payload.sub).toBe('alice');
  });

  it('refuses an unsigned ("none") token and an HS256 one', async () => {
    const jwks = createIdpJwks(() => url);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}.`;
    await expect(jwks.verify(none)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    const hs = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    await expect(jwks.verify(hs)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  });
});

describe('fetch policy', () => {
  it('an IdP without jwks_uri: NoJwksUriError, and nothing fetched', async () => {
    const k = await keyPair('RS256', 'a');
    await expect(createIdpJwks(() => undefined).verify(await sign(k.privateKey, 'RS256', 'a'))).rejects.toBeInstanceOf(NoJwksUriError);
    expect(fetches).toBe(0);
  });

  it('fetches once, then answers from the cache', async () => {
    const k = await keyPair('ES256', 'a');
    published = [k.jwk];
    const jwks = createIdpJwks(() => url);
    const token = await sign(k.privateKey, 'ES256', 'a');
    await jwks.verify(token);
    await jwks.verify(token);
    expect(fetches).toBe(1);
  });

  it('an unknown key within the cooldown: refused without a fetch (tokens anyone can send)', async () => {
    const a = await keyPair('ES256', 'a');
    const b = await keyPair('ES256', 'b');
    published = [a.jwk];
    const jwks = createIdpJwks(() => url);
    await jwks.verify(await sign(a.privateKey, 'ES256', 'a'));
    published = [a.jwk, b.jwk]; // the IdP rotated
    await expect(jwks.verify(await sign(b.privateKey, 'ES256', 'b'))).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(fetches).toBe(1);
  });

  it('an unknown key on the ID token path: fetched again at once, and then the other paths know it too', async () => {
    const a = await keyPair('ES256', 'a');
    const b = await keyPair('ES256', 'b');
    published = [a.jwk];
    const jwks = createIdpJwks(() => url);
    await jwks.verify(await sign(a.privateKey, 'ES256', 'a'));
    published = [a.jwk, b.jwk];
    const rotated = await sign(b.privateKey, 'ES256', 'b');
    await expect(jwks.verify(rotated, {}, true)).resolves.toMatchObject({ payload: { sub: 'alice' } });
    expect(fetches).toBe(2);
    await jwks.verify(rotated);
    expect(fetches).toBe(2);
  });

  it('an unknown key on the first check: one fetch, not two', async () => {
    const a = await keyPair('ES256', 'a');
    const b = await keyPair('ES256', 'b');
    published = [a.jwk];
    await expect(createIdpJwks(() => url).verify(await sign(b.privateKey, 'ES256', 'b'), {}, true)).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    expect(fetches).toBe(1);
  });
});

describe("jwtRefusalReason: jose's refusals without its message text", () => {
  it.each<[string, object, RegExp]>([
    [
      'a claim check',
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss', reason: 'check_failed', message: 'unexpected "iss" claim value' },
      /^the "iss" claim is not valid$/,
    ],
    ['a missing claim', { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'jti', reason: 'missing' }, /^the "jti" claim is missing$/],
    [
      'a claim name that is no name',
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: '<script>', reason: 'check_failed' },
      /^a claim is not valid$/,
    ],
    ['expired', { code: 'ERR_JWT_EXPIRED' }, /expired/],
    ['a bad signature', { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }, /signature did not verify/],
    ['HS256 or none', { code: 'ERR_JOSE_ALG_NOT_ALLOWED' }, /algorithm is not accepted/],
    ['an unknown key', { code: 'ERR_JWKS_NO_MATCHING_KEY' }, /not signed with a key/],
    ['garbage', { code: 'ERR_JWS_INVALID', message: 'attacker text' }, /not a well-formed signed JWT/],
    ['another jose code', { code: 'ERR_JWKS_TIMEOUT' }, /\(ERR_JWKS_TIMEOUT\)/],
    ['not jose at all', new Error('attacker text'), /could not be verified/],
  ])('%s', (_name, err, reason) => {
    expect(jwtRefusalReason(err)).toMatch(reason);
    expect(jwtRefusalReason(err)).not.toMatch(/attacker|script/);
  });
});
