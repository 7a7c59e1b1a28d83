// ID token attacks: a man-in-the-middle between Gatehouse and the IdP (test/support/tamper-idp.ts)
// replaces the ID token in the token endpoint's answer. Whatever the forgery — unknown key,
// alg "none", wrong audience, expired, wrong nonce, wrong issuer, damaged signature — the sign-in
// fails with GH_LOGIN_FAILED and no session is created. Two controls prove the proxy itself is
// transparent and that re-signing with the IdP's key is accepted when nothing else changes.
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { CLIENT_ID, USERS } from '../support/oidc.ts';
import { startTamperSetup, type IdpKey, type IdTokenMutation, type TamperSetup } from '../support/tamper-idp.ts';
import { startUpstream } from '../support/upstream.ts';

const isCallback = (u: string) => u.includes('/.gatehouse/oidc/corp/callback');
const nowSec = () => Math.floor(Date.now() / 1000);
const b64url = (s: string) => Buffer.from(s).toString('base64url');

function sign(payload: JWTPayload, key: CryptoKey, kid: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
}

/** Re-sign the genuine token's claims, with `change` applied, by the IdP's own key. */
const resignedByIdp =
  (key: IdpKey, change: JWTPayload): IdTokenMutation =>
  (token) =>
    sign({ ...decodeJwt(token), ...change }, key.privateKey, key.kid);

interface Attempt {
  readonly status: number;
  readonly body: { error?: string; message?: string } | undefined;
  readonly setCookies: string[];
  readonly sessionCookie: string | undefined;
}

/** Start a sign-in as alice, then deliver the IdP's answer to the callback (asking for JSON errors). */
async function signIn(s: TamperSetup): Promise<Attempt> {
  const browser = new TestBrowser();
  const stopped = await browser.go(`${s.gh.url}/notebooks/1`, USERS.alice, isCallback);
  expect(stopped.url.startsWith(`${s.gh.url}/.gatehouse/oidc/corp/callback?`)).toBe(true);
  // Every step of the browser's trip to the IdP went through the proxy.
  expect(stopped.hops.filter((h) => h.url.startsWith(s.issuer)).length).toBeGreaterThan(0);
  const r = await browser.fetch(stopped.url, { headers: { accept: 'application/json' } });
  let body: Attempt['body'];
  try {
    body = JSON.parse(r.body) as Attempt['body'];
  } catch {
    body = undefined;
  }
  return { status: r.status, body, setCookies: r.hops[0]!.setCookies, sessionCookie: browser.jar.get(s.gh.url, 'gatehouse') };
}

/** The sign-in failed with GH_LOGIN_FAILED, no cookie was set and no session exists. */
async function expectRefused(s: TamperSetup, attempt: Attempt): Promise<void> {
  expect(s.proxy.stats.rewritten, 'the proxy rewrote the token answer').toBe(1);
  expect(attempt.status, attempt.body?.message).toBe(400);
  expect(attempt.body?.error).toBe('GH_LOGIN_FAILED');
  expect(attempt.body?.message).toMatch(/^Sign-in with corp failed/);
  expect(attempt.setCookies.filter((c) => c.startsWith('gatehouse='))).toEqual([]);
  expect(attempt.sessionCookie).toBeUndefined();
  expect(await s.gh.current().sessions.list('alice@example.com')).toEqual([]);
}

describe('ID token forgeries through a tampering proxy', () => {
  it('control: with the proxy in the path and nothing changed, alice signs in', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    const attempt = await signIn(s);
    expect(s.proxy.stats.tokenResponses).toBe(1);
    expect(s.proxy.stats.rewritten).toBe(0);
    expect(attempt.status).toBe(302);
    expect(attempt.sessionCookie).toBeDefined();
    const me = await getJson(`${s.gh.url}/.gatehouse/userinfo`, { cookie: `gatehouse=${attempt.sessionCookie}` });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: 'alice@example.com', idp: 'corp' });
  });

  it('control: the genuine claims re-signed with the IdP key (as the forgeries below are) are accepted', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    let original: { header: ReturnType<typeof decodeProtectedHeader>; claims: JWTPayload } | undefined;
    s.proxy.mutation = (token) => {
      original = { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
      return sign(decodeJwt(token), s.key.privateKey, s.key.kid);
    };
    const attempt = await signIn(s);
    expect(s.proxy.stats.rewritten).toBe(1);
    // The genuine token really is what the forgeries start from.
    expect(original?.header).toMatchObject({ alg: 'RS256', kid: s.key.kid });
    expect(original?.claims).toMatchObject({ iss: s.issuer, aud: CLIENT_ID, sub: 'alice' });
    expect(typeof original?.claims.nonce).toBe('string');
    expect(attempt.status).toBe(302);
    expect(attempt.sessionCookie).toBeDefined();
    expect(await s.gh.current().sessions.list('alice@example.com')).toHaveLength(1);
  });

  it('(a) refuses a token re-signed by an unknown RSA key under a new kid', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    const attacker = await generateKeyPair('RS256');
    s.proxy.mutation = (token) => sign(decodeJwt(token), attacker.privateKey, 'attacker-key-1');
    await expectRefused(s, await signIn(s));
  });

  it("(a2) refuses a token signed by an unknown key that claims the IdP's kid", async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    const attacker = await generateKeyPair('RS256');
    s.proxy.mutation = (token) => sign(decodeJwt(token), attacker.privateKey, s.key.kid);
    await expectRefused(s, await signIn(s));
  });

  it('(b) refuses an unsigned token (alg "none", empty signature)', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    s.proxy.mutation = (token) => `${b64url(JSON.stringify({ alg: 'none' }))}.${token.split('.')[1]}.`;
    await expectRefused(s, await signIn(s));
  });

  it('(c) refuses a token for another audience, even signed with the IdP key', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    s.proxy.mutation = resignedByIdp(s.key, { aud: 'someone-else' });
    await expectRefused(s, await signIn(s));
  });

  it('(d) refuses an expired token (exp and iat an hour ago), even signed with the IdP key', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    s.proxy.mutation = (token) => resignedByIdp(s.key, { iat: nowSec() - 3700, exp: nowSec() - 3600 })(token);
    await expectRefused(s, await signIn(s));
  });

  it('(e) refuses a token with another nonce, even signed with the IdP key', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    s.proxy.mutation = resignedByIdp(s.key, { nonce: randomBytes(32).toString('base64url') });
    await expectRefused(s, await signIn(s));
  });

  it('(f) refuses a token from another issuer, even signed with the IdP key', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    s.proxy.mutation = resignedByIdp(s.key, { iss: 'https://evil.example' });
    await expectRefused(s, await signIn(s));
  });

  it('(g) refuses a token whose signature bytes were flipped (claims untouched)', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    s.proxy.mutation = (token) => {
      const [h, p, sig] = token.split('.') as [string, string, string];
      const bytes = Buffer.from(sig, 'base64url');
      for (let i = 10; i < 20; i++) bytes[i] = bytes[i]! ^ 0xff;
      return `${h}.${p}.${bytes.toString('base64url')}`;
    };
    await expectRefused(s, await signIn(s));
  });

  it('(h) refuses genuine-looking claims for another user spliced into a genuine signature', async () => {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url);
    s.proxy.mutation = (token) => {
      const [h, p, sig] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as JWTPayload;
      return `${h}.${b64url(JSON.stringify({ ...claims, sub: 'bob', email: 'bob@example.com', groups: ['ml-admins'] }))}.${sig}`;
    };
    await expectRefused(s, await signIn(s));
    expect(await s.gh.current().sessions.list('bob@example.com')).toEqual([]);
  });
});

describe('ID token forgeries at token refresh', () => {
  /** alice signed in with 1-second tokens; returns her cookie header and session key. */
  async function signedInWithShortTokens() {
    const up = await startUpstream();
    const s = await startTamperSetup(up.url, { accessTokenTtlSec: 1, idTokenTtlSec: 1 });
    const browser = new TestBrowser();
    expect((await browser.go(`${s.gh.url}/`, USERS.alice)).status).toBe(200);
    const cookie = { cookie: `gatehouse=${browser.jar.get(s.gh.url, 'gatehouse')}` };
    const [summary] = await s.gh.current().sessions.list('alice@example.com');
    const before = (await s.gh.current().sessions.store.get(summary!.id))!;
    expect(before.refreshAt).toBeDefined();
    return { s, cookie, key: summary!.id, before };
  }

  /** Let the tokens expire, trigger the background refresh, and wait until it has been dealt with. */
  async function refreshThroughProxy(t: Awaited<ReturnType<typeof signedInWithShortTokens>>): Promise<void> {
    await new Promise((r) => setTimeout(r, 1200));
    await getJson(`${t.s.gh.url}/x`, t.cookie);
    await expect.poll(() => t.s.proxy.stats.rewritten, { timeout: 5000 }).toBe(1);
    await expect
      .poll(
        async () => {
          const now = await t.s.gh.current().sessions.store.get(t.key);
          return now === undefined || now.refreshAt !== t.before.refreshAt;
        },
        { timeout: 5000 },
      )
      .toBe(true);
  }

  it('a refreshed ID token with a damaged signature ends the session', async () => {
    const t = await signedInWithShortTokens();
    t.s.proxy.mutation = (token) => {
      const [h, p, sig] = token.split('.') as [string, string, string];
      const bytes = Buffer.from(sig, 'base64url');
      for (let i = 10; i < 20; i++) bytes[i] = bytes[i]! ^ 0xff;
      return `${h}.${p}.${bytes.toString('base64url')}`;
    };
    await refreshThroughProxy(t);
    await expect.poll(async () => (await getJson(`${t.s.gh.url}/x`, t.cookie)).status, { timeout: 5000 }).toBe(401);
  });

  // OpenID Connect Core 1.0 §12.2: a refreshed ID token's sub MUST be the one of the original
  // sign-in. Here the token is validly signed by the IdP's key but names bob: alice's session must
  // not take bob's email and groups (ending the session or keeping alice's identity are both safe).
  it("a refreshed ID token for another subject does not give the session that subject's identity", async () => {
    const t = await signedInWithShortTokens();
    t.s.proxy.mutation = resignedByIdp(t.s.key, { sub: 'bob', email: 'bob@example.com', name: 'Bob Labeler', groups: ['labelers'] });
    await refreshThroughProxy(t);
    const after = await t.s.gh.current().sessions.store.get(t.key);
    if (after !== undefined) {
      expect({ user: after.user, email: after.email, groups: after.groups }, 'identity after a refresh that named bob').toEqual({
        user: 'alice@example.com',
        email: 'alice@example.com',
        groups: ['ml-admins', 'data-scientists'],
      });
    }
  });
});
