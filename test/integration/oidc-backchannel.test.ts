// OIDC Back-Channel Logout: (1) the real thing — alice signs out at the IdP (its own logout page,
// no Gatehouse involved), oidc-provider POSTs a logout token to the second replica, and the session
// she got from the first replica stops working there (this needs oidc-provider's SSRF guard lifted
// for loopback: the demo IdP posts with plain fetch, see src/demo/idp.ts); the same with a token the test signs as the IdP;
// (2) crafted logout tokens signed with the IdP's key: `sid` ends exactly that session, `sub` alone
// ends all of the user's sessions, and every malformed, forged or replayed token is refused with
// GH_BAD_LOGOUT_TOKEN and ends nothing.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { StartedGatehouse } from '../support/start-gatehouse.ts';
import { parseRecords, readNdjson } from '../support/audit.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { CLIENT_ID, CLIENT_SECRET, idpSigningKey, startOidcSetup, USERS } from '../support/oidc.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream } from '../support/upstream.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const BCL_PATH = '/.gatehouse/oidc/corp/backchannel-logout';
const nowSec = () => Math.floor(Date.now() / 1000);
const b64url = (s: string) => Buffer.from(s).toString('base64url');

type IdpKey = Awaited<ReturnType<typeof idpSigningKey>>;

/** HTTP status of an API request (JSON, no redirect to sign-in) with this session cookie. */
async function apiStatus(gh: StartedGatehouse, cookie: string): Promise<number> {
  return (await getJson(`${gh.url}/api/runs`, { cookie: `gatehouse=${cookie}` })).status;
}

/** Sign `user` in with a fresh browser (so a fresh IdP session); returns the Gatehouse cookie. */
async function signIn(gh: StartedGatehouse, user: keyof typeof USERS): Promise<string> {
  const browser = new TestBrowser();
  const page = await browser.go(`${gh.url}/`, USERS[user]);
  expect(page.status).toBe(200);
  const cookie = browser.jar.get(gh.url, 'gatehouse');
  expect(cookie).toBeDefined();
  return cookie!;
}

/** The IdP session id (`sid` of the ID token) of every live session of `email`, by store key. */
async function idpSessions(gh: StartedGatehouse, email: string): Promise<Map<string, string | undefined>> {
  const sessions = gh.current().sessions;
  const out = new Map<string, string | undefined>();
  for (const s of await sessions.list(email)) out.set(s.id, (await sessions.store.get(s.id))?.idpSession);
  return out;
}

async function postLogoutToken(
  gh: StartedGatehouse,
  token: string,
): Promise<{ status: number; body: string; json: { error?: string; message?: string } | undefined }> {
  const res = await request(`${gh.url}${BCL_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  const body = await res.body.text();
  let json;
  try {
    json = JSON.parse(body) as { error?: string; message?: string };
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, body, json };
}

interface Signer {
  readonly key: CryptoKey | Uint8Array;
  readonly header: Record<string, unknown>;
}

function logoutToken(claims: JWTPayload, signer: Signer): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(signer.header as { alg: string }).sign(signer.key);
}

/** Standard claims of a valid logout token from the IdP. */
function validClaims(issuer: string, extra: JWTPayload = {}): JWTPayload {
  return { iss: issuer, aud: CLIENT_ID, iat: nowSec(), jti: randomUUID(), events: { [EVENT]: {} }, sub: 'alice', ...extra };
}

const idpSigner = (key: IdpKey): Signer => ({ key: key.privateKey, header: { alg: 'RS256', kid: key.kid, typ: 'logout+jwt' } });

describe('back-channel logout across replicas', () => {
  it("a sign-out on the IdP's own logout page reaches the second replica and ends the session on the first", async () => {
    const up = await startUpstream();
    const { gh, others, idp } = await startOidcSetup(up.url, {
      replicas: 1,
      backchannelTo: 'second',
      session: { store: 'redis', redis: { url: redisUrl(), key_prefix: uniquePrefix() } },
    });
    const second = others[0]!;
    const browser = new TestBrowser();
    const page = await browser.go(`${gh.url}/`, USERS.alice);
    expect(page.status).toBe(200);
    const cookie = browser.jar.get(gh.url, 'gatehouse')!;
    expect(cookie).toBeDefined();
    expect(await apiStatus(gh, cookie)).toBe(200);
    expect(await apiStatus(second, cookie)).toBe(200);
    const before = await idpSessions(gh, 'alice@example.com');
    expect(before.size).toBe(1);
    expect([...before.values()][0]).toMatch(/\S/);

    // RP-initiated logout at the IdP, without Gatehouse: its confirmation page, then "Yes, sign me out".
    const discovery = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
    const endSession = new URL(String(discovery.body.end_session_endpoint));
    expect(endSession.origin).toBe(idp.issuer);
    endSession.searchParams.set('client_id', CLIENT_ID);
    const confirm = await browser.fetch(endSession.href);
    expect(confirm.status).toBe(200);
    const form = /<form id="op\.logoutForm" method="post" action="([^"]+)">/.exec(confirm.body);
    const xsrf = /<input type="hidden" name="xsrf" value="([^"]+)"/.exec(confirm.body);
    expect(form, 'the IdP shows its logout confirmation form').not.toBeNull();
    expect(xsrf).not.toBeNull();
    const done = await browser.fetch(new URL(form![1]!.replace(/&amp;/g, '&'), endSession).href, {
      method: 'POST',
      body: new URLSearchParams({ xsrf: xsrf![1]!, logout: 'yes' }).toString(),
    });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${idp.issuer}/session/end/success`);

    // The logout token went to the second replica; the shared store ends the session everywhere.
    await expect
      .poll(() => apiStatus(gh, cookie), {
        timeout: 5000,
        interval: 100,
        message: "the session should end on the first replica after the IdP's back-channel logout to the second",
      })
      .toBe(401);
    expect(await apiStatus(second, cookie)).toBe(401);
    expect((await idpSessions(gh, 'alice@example.com')).size).toBe(0);
  });

  it('a logout token posted to the second replica ends a session created on the first (shared redis store)', async () => {
    const up = await startUpstream();
    const key = await idpSigningKey();
    const { gh, others, idp } = await startOidcSetup(up.url, {
      idp: { jwks: key.jwks },
      replicas: 1,
      backchannelTo: 'second',
      session: { store: 'redis', redis: { url: redisUrl(), key_prefix: uniquePrefix() } },
    });
    const second = others[0]!;
    const alice1 = await signIn(gh, 'alice');
    const [[, sid1]] = [...(await idpSessions(gh, 'alice@example.com'))] as [[string, string | undefined]];
    const alice2 = await signIn(gh, 'alice');
    expect(sid1).toMatch(/\S/);
    // Warm the first replica's cache, so the revocation has to reach it from the store.
    expect(await apiStatus(gh, alice1)).toBe(200);
    expect(await apiStatus(gh, alice2)).toBe(200);

    const r = await postLogoutToken(second, await logoutToken(validClaims(idp.issuer, { sid: sid1 }), idpSigner(key)));
    expect(r.status).toBe(200);
    await expect.poll(() => apiStatus(gh, alice1), { timeout: 5000, interval: 100 }).toBe(401);
    expect(await apiStatus(second, alice1)).toBe(401);
    expect(await apiStatus(gh, alice2)).toBe(200);
    expect(await apiStatus(second, alice2)).toBe(200);
  });
});

describe('crafted back-channel logout tokens', () => {
  /** Alice twice (two browsers, two IdP sessions) and bob once, on one Gatehouse whose IdP signs with `key`. */
  async function setup() {
    const up = await startUpstream();
    const key = await idpSigningKey();
    const auditFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-bcl-')), 'audit.ndjson');
    const { gh, idp } = await startOidcSetup(up.url, { idp: { jwks: key.jwks }, audit: { sinks: [{ type: 'file', path: auditFile }] } });
    const alice1 = await signIn(gh, 'alice');
    const [[key1, sid1]] = [...(await idpSessions(gh, 'alice@example.com'))] as [[string, string | undefined]];
    const alice2 = await signIn(gh, 'alice');
    const all = await idpSessions(gh, 'alice@example.com');
    expect(all.size).toBe(2);
    const [key2, sid2] = [...all].find(([k]) => k !== key1)!;
    expect(sid1).toMatch(/\S/);
    expect(sid2).toMatch(/\S/);
    expect(sid2).not.toBe(sid1);
    const bob = await signIn(gh, 'bob');
    return { gh, idp, key, alice1, alice2, bob, sid1: sid1!, sid2: sid2!, key1, key2, auditFile };
  }
  type Setup = Awaited<ReturnType<typeof setup>>;

  async function expectAllAlive(s: Setup): Promise<void> {
    expect(await apiStatus(s.gh, s.alice1)).toBe(200);
    expect(await apiStatus(s.gh, s.alice2)).toBe(200);
    expect(await apiStatus(s.gh, s.bob)).toBe(200);
    expect((await s.gh.current().sessions.list('alice@example.com')).length).toBe(2);
  }

  it("a valid token with sid ends exactly that session (alice's other session and bob stay)", async () => {
    const s = await setup();
    const r = await postLogoutToken(s.gh, await logoutToken(validClaims(s.idp.issuer, { sid: s.sid1 }), idpSigner(s.key)));
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(await apiStatus(s.gh, s.alice1)).toBe(401);
    expect(await apiStatus(s.gh, s.alice2)).toBe(200);
    expect(await apiStatus(s.gh, s.bob)).toBe(200);
    expect([...(await idpSessions(s.gh, 'alice@example.com')).keys()]).toEqual([s.key2]);
  });

  it("a valid token with only sub ends all of that user's sessions (bob stays)", async () => {
    const s = await setup();
    const r = await postLogoutToken(s.gh, await logoutToken(validClaims(s.idp.issuer), idpSigner(s.key)));
    expect(r.status).toBe(200);
    expect(await apiStatus(s.gh, s.alice1)).toBe(401);
    expect(await apiStatus(s.gh, s.alice2)).toBe(401);
    expect(await apiStatus(s.gh, s.bob)).toBe(200);
    expect((await s.gh.current().sessions.list('alice@example.com')).length).toBe(0);
    // One session_revoked per ended session, at the moment it ended, naming whose it was.
    const revoked = () =>
      parseRecords(readNdjson(s.auditFile)).filter((r) => r.event?.action === 'session_revoked' && r.event.reason === 'backchannel');
    await expect.poll(() => revoked().length, { timeout: 5000 }).toBe(2);
    expect(
      revoked()
        .map((r) => [r.event?.reason, r.user?.name, r.gatehouse?.session])
        .sort(),
    ).toEqual(
      [
        ['backchannel', 'alice@example.com', s.key1],
        ['backchannel', 'alice@example.com', s.key2],
      ].sort(),
    );
  });

  it('a valid token for an unknown sid is accepted and ends nothing', async () => {
    const s = await setup();
    const r = await postLogoutToken(s.gh, await logoutToken(validClaims(s.idp.issuer, { sid: 'no-such-idp-session' }), idpSigner(s.key)));
    expect(r.status).toBe(200);
    await expectAllAlive(s);
  });

  it('refuses a replayed jti, even when the replay names another session', async () => {
    const s = await setup();
    const jti = randomUUID();
    const first = await postLogoutToken(
      s.gh,
      await logoutToken(validClaims(s.idp.issuer, { jti, sid: 'no-such-idp-session' }), idpSigner(s.key)),
    );
    expect(first.status).toBe(200);
    const replayed = await logoutToken(validClaims(s.idp.issuer, { jti, sid: s.sid1 }), idpSigner(s.key));
    const r = await postLogoutToken(s.gh, replayed);
    expect(r.status).toBe(400);
    expect(r.json?.error).toBe('GH_BAD_LOGOUT_TOKEN');
    expect(r.json?.message).toContain('replayed');
    await expectAllAlive(s);
    // The very same token twice: the second is refused too.
    const exact = await logoutToken(validClaims(s.idp.issuer, { sid: 'another-unknown-sid' }), idpSigner(s.key));
    expect((await postLogoutToken(s.gh, exact)).status).toBe(200);
    expect((await postLogoutToken(s.gh, exact)).json?.error).toBe('GH_BAD_LOGOUT_TOKEN');
  });

  // Each forgery names alice's first session (sid) and alice (sub): if accepted, it would end both.
  const FORGERIES: ReadonlyArray<readonly [string, (s: Setup) => Promise<string>]> = [
    [
      'without the events claim',
      async (s) => {
        const { events: _events, ...claims } = validClaims(s.idp.issuer, { sid: s.sid1 });
        return logoutToken(claims, idpSigner(s.key));
      },
    ],
    [
      'with another event instead of back-channel logout',
      (s) =>
        logoutToken(validClaims(s.idp.issuer, { sid: s.sid1, events: { 'http://schemas.openid.net/event/other': {} } }), idpSigner(s.key)),
    ],
    [
      'with the event not an object',
      (s) => logoutToken(validClaims(s.idp.issuer, { sid: s.sid1, events: { [EVENT]: true } }), idpSigner(s.key)),
    ],
    [
      'with a nonce (an ID token, not a logout token)',
      (s) => logoutToken(validClaims(s.idp.issuer, { sid: s.sid1, nonce: 'n-0S6_WzA2Mj' }), idpSigner(s.key)),
    ],
    ['for another audience', (s) => logoutToken(validClaims(s.idp.issuer, { sid: s.sid1, aud: 'someone-else' }), idpSigner(s.key))],
    ['from another issuer', (s) => logoutToken(validClaims('https://evil.example', { sid: s.sid1 }), idpSigner(s.key))],
    [
      'issued more than 5 minutes ago',
      (s) => logoutToken(validClaims(s.idp.issuer, { sid: s.sid1, iat: nowSec() - 10 * 60 }), idpSigner(s.key)),
    ],
    [
      'already expired (exp in the past)',
      (s) => logoutToken(validClaims(s.idp.issuer, { sid: s.sid1, iat: nowSec() - 120, exp: nowSec() - 60 }), idpSigner(s.key)),
    ],
    [
      'without jti',
      async (s) => {
        const { jti: _jti, ...claims } = validClaims(s.idp.issuer, { sid: s.sid1 });
        return logoutToken(claims, idpSigner(s.key));
      },
    ],
    [
      'without iat',
      async (s) => {
        const { iat: _iat, ...claims } = validClaims(s.idp.issuer, { sid: s.sid1 });
        return logoutToken(claims, idpSigner(s.key));
      },
    ],
    [
      'with neither sub nor sid',
      async (s) => {
        const { sub: _sub, ...claims } = validClaims(s.idp.issuer);
        return logoutToken(claims, idpSigner(s.key));
      },
    ],
    [
      'signed by an unknown key (new kid)',
      async (s) => {
        const attacker = await generateKeyPair('RS256');
        return logoutToken(validClaims(s.idp.issuer, { sid: s.sid1 }), {
          key: attacker.privateKey,
          header: { alg: 'RS256', kid: 'attacker-key', typ: 'logout+jwt' },
        });
      },
    ],
    [
      "signed by an unknown key under the IdP's kid",
      async (s) => {
        const attacker = await generateKeyPair('RS256');
        return logoutToken(validClaims(s.idp.issuer, { sid: s.sid1 }), {
          key: attacker.privateKey,
          header: { alg: 'RS256', kid: s.key.kid, typ: 'logout+jwt' },
        });
      },
    ],
    [
      'signed with HS256 using the client secret',
      (s) =>
        logoutToken(validClaims(s.idp.issuer, { sid: s.sid1 }), {
          key: new TextEncoder().encode(CLIENT_SECRET),
          header: { alg: 'HS256', typ: 'logout+jwt' },
        }),
    ],
    [
      'unsigned (alg none)',
      async (s) =>
        `${b64url(JSON.stringify({ alg: 'none', typ: 'logout+jwt' }))}.${b64url(JSON.stringify(validClaims(s.idp.issuer, { sid: s.sid1 })))}.`,
    ],
    [
      'with its signature bytes flipped',
      async (s) => {
        const [h, p, sig] = (await logoutToken(validClaims(s.idp.issuer, { sid: s.sid1 }), idpSigner(s.key))).split('.') as [
          string,
          string,
          string,
        ];
        const bytes = Buffer.from(sig, 'base64url');
        for (let i = 0; i < 8; i++) bytes[i] = bytes[i]! ^ 0xff;
        return `${h}.${p}.${bytes.toString('base64url')}`;
      },
    ],
    ['that is not a JWT at all', async () => 'not-a-jwt'],
  ];

  it.each(FORGERIES)('refuses a token %s with 400 GH_BAD_LOGOUT_TOKEN and ends nothing', async (_name, make) => {
    const s = await setup();
    const r = await postLogoutToken(s.gh, await make(s));
    expect(r.status).toBe(400);
    expect(r.json?.error).toBe('GH_BAD_LOGOUT_TOKEN');
    await expectAllAlive(s);
  });

  it('refuses a genuine ID token presented as a logout token', async () => {
    const s = await setup();
    const sessions = s.gh.current().sessions;
    const record = (await sessions.store.get(s.key1))!;
    const idToken = sessions.tokens(s.key1, record)?.id_token;
    expect(idToken).toMatch(/^eyJ/);
    const r = await postLogoutToken(s.gh, idToken!);
    expect(r.status).toBe(400);
    expect(r.json?.error).toBe('GH_BAD_LOGOUT_TOKEN');
    await expectAllAlive(s);
  });

  it('refuses a request without logout_token', async () => {
    const s = await setup();
    const res = await request(`${s.gh.url}${BCL_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=x',
    });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { error: string }).error).toBe('GH_BAD_LOGOUT_TOKEN');
    await expectAllAlive(s);
  });

  it('answers GET with 405 and ends nothing, even with a valid token in the query', async () => {
    const s = await setup();
    const token = await logoutToken(validClaims(s.idp.issuer, { sid: s.sid1 }), idpSigner(s.key));
    const res = await request(`${s.gh.url}${BCL_PATH}?logout_token=${encodeURIComponent(token)}`, {
      headers: { accept: 'application/json' },
    });
    expect(res.statusCode).toBe(405);
    expect(((await res.body.json()) as { error: string }).error).toBe('GH_METHOD_NOT_ALLOWED');
    await expectAllAlive(s);
    // The same token, POSTed, still works: the GET did not consume its jti.
    expect((await postLogoutToken(s.gh, token)).status).toBe(200);
    expect(await apiStatus(s.gh, s.alice1)).toBe(401);
  });
});
