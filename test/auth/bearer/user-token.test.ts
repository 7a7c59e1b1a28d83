// User tokens: minted for a CLI session, accepted while that session lives, and nothing else is
// taken for one — not the assertion JWT (same key, same issuer), not a token for a browser session,
// another audience or a session that was revoked.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { isUserToken, mintUserToken, userTokenAudience, verifyUserToken } from '../../../src/auth/bearer/user-token.ts';
import { compileConfig } from '../../../src/config/compile.ts';
import { Secret } from '../../../src/config/secret.ts';
import { createAssertionSigner } from '../../../src/identity/assertion.ts';
import { loadSigningKeys } from '../../../src/identity/keys.ts';
import { createSessionManager } from '../../../src/session/manager.ts';
import { createMemoryStore } from '../../../src/session/memory-store.ts';
import { baseConfig } from '../../support/start-gatehouse.ts';

const ISSUER = 'https://ml.corp.example';
const alice = { user: 'alice@example.com', groups: ['ml-admins'], idp: 'corp', method: 'oidc' };

async function parts(now: () => number = Date.now) {
  const keys = await loadSigningKeys(undefined);
  const session = { store: 'memory', secret: 'user-token-test-secret-0123456789abcdef', idle_timeout: '30m' };
  const config = compileConfig({ ...baseConfig(), session }).config;
  const sessions = createSessionManager({
    config: config.session,
    secret: new Secret('user-token-test-secret-0123456789abcdef'),
    store: createMemoryStore({ maxSessions: 100, now }),
    now,
  });
  return { keys, sessions };
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (err: { code?: string; message: string }) => `${err.code}: ${err.message}`,
  );

describe('user tokens', () => {
  it('a token for a live CLI session is accepted and names it; revoked, it is refused', async () => {
    const { keys, sessions } = await parts();
    const cli = await sessions.create({ ...alice, kind: 'cli' });
    const { token, expiresIn } = await mintUserToken(keys, ISSUER, cli.key, cli.record, 600_000);
    expect(expiresIn).toBe(600);
    expect(isUserToken(token)).toBe(true);
    const found = await verifyUserToken(token, keys, ISSUER, sessions);
    expect(found.key).toBe(cli.key);
    expect(found.record).toMatchObject({ user: 'alice@example.com', kind: 'cli' });
    await sessions.revoke(cli.key);
    expect(await refusal(verifyUserToken(token, keys, ISSUER, sessions))).toMatch(/^GH_BAD_TOKEN: .*revoked/);
  });

  it('refuses the assertion JWT, a browser session, another issuer or audience, and another key', async () => {
    const { keys, sessions } = await parts();
    const browser = await sessions.create(alice);
    const cli = await sessions.create({ ...alice, kind: 'cli' });
    const { token: assertion } = await createAssertionSigner(keys, ISSUER, 60_000).sign(cli.record, userTokenAudience(ISSUER), []);
    expect(isUserToken(assertion)).toBe(false);
    expect(await refusal(verifyUserToken(assertion, keys, ISSUER, sessions))).toMatch(/^GH_BAD_TOKEN/);

    const forBrowser = (await mintUserToken(keys, ISSUER, browser.key, browser.record, 600_000)).token;
    expect(await refusal(verifyUserToken(forBrowser, keys, ISSUER, sessions))).toMatch(/another session/);
    const elsewhere = (await mintUserToken(keys, 'https://other.example', cli.key, cli.record, 600_000)).token;
    expect(await refusal(verifyUserToken(elsewhere, keys, ISSUER, sessions))).toMatch(/^GH_BAD_TOKEN/);
    const otherKeys = await loadSigningKeys(undefined);
    const foreign = (await mintUserToken(otherKeys, ISSUER, cli.key, cli.record, 600_000)).token;
    expect(await refusal(verifyUserToken(foreign, keys, ISSUER, sessions))).toMatch(/^GH_BAD_TOKEN/);
    // Right key and typ, wrong audience; and a sid naming nothing.
    const sign = (aud: string, sid: string) =>
      new SignJWT({ sid })
        .setProtectedHeader({ alg: 'ES256', kid: keys.kid, typ: 'gatehouse-user+jwt' })
        .setIssuer(ISSUER)
        .setAudience(aud)
        .setSubject(alice.user)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(keys.signingKey);
    expect(await refusal(verifyUserToken(await sign('https://ml.corp.example', cli.key), keys, ISSUER, sessions))).toMatch(/aud/);
    expect(await refusal(verifyUserToken(await sign(userTokenAudience(ISSUER), 'nope'), keys, ISSUER, sessions))).toMatch(/expired/);
    expect(await refusal(verifyUserToken(await sign(userTokenAudience(ISSUER), cli.key), keys, ISSUER, sessions))).toBe('accepted');
  });

  it("ends with its session: the IdP's back-channel logout and the idle timeout", async () => {
    const clock = { at: Date.now() };
    const { keys, sessions } = await parts(() => clock.at);
    const cli = await sessions.create({ ...alice, subject: 'sub-1', idpSession: 'idp-sid-1', kind: 'cli' });
    const other = await sessions.create({ ...alice, kind: 'cli' });
    const token = (await mintUserToken(keys, ISSUER, cli.key, cli.record, 600_000)).token;
    const idle = (await mintUserToken(keys, ISSUER, other.key, other.record, 600_000)).token;
    expect(await refusal(verifyUserToken(token, keys, ISSUER, sessions))).toBe('accepted');
    expect((await sessions.revokeByIdp('corp', { idpSession: 'idp-sid-1' })).map((r) => r.key)).toEqual([cli.key]);
    expect(await refusal(verifyUserToken(token, keys, ISSUER, sessions))).toMatch(/revoked/);
    // 31 minutes unused on the session clock (the token's own exp is still ahead on the real one).
    clock.at += 31 * 60_000;
    expect(await refusal(verifyUserToken(idle, keys, ISSUER, sessions))).toMatch(/expired/);
  });
});
