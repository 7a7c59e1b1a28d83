// POST /.gatehouse/ssf/events against a real Gatehouse (in process, memory store) and a real
// transmitter JWKS on loopback: every way a SET can be wrong is refused with RFC 8935's 400 and
// error code, nothing is ended by a refused SET, and a valid session-revoked event ends exactly
// its user's sessions and is recorded with the transmitter as the actor.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { parseRecords, readNdjson } from '../../support/audit.ts';
import { freePort } from '../../support/ports.ts';
import { baseConfig, startTestGatehouse } from '../../support/start-gatehouse.ts';
import {
  ACCOUNT_ENABLED,
  CREDENTIAL_CHANGE,
  pushSet,
  RECEIVER_AUDIENCE,
  SESSION_REVOKED,
  startTransmitter,
  type TestTransmitter,
} from '../../support/ssf-transmitter.ts';

const ALICE = { user: 'alice@corp.example', email: 'alice@corp.example', groups: [], idp: 'corp', method: 'test' };
const BOB = { ...ALICE, user: 'bob@corp.example', email: 'bob@corp.example' };

async function setUp(ssf: Record<string, unknown> = {}) {
  const tx = await startTransmitter();
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-ssf-')), 'audit.ndjson');
  const gh = await startTestGatehouse({
    ...baseConfig(),
    session: { store: 'memory', secret: 'ssf-receiver-session-secret-0123456789abcdef', cookie: { secure: false } },
    ssf: { transmitters: [tx.entry()], ...ssf },
    audit: { sinks: [{ type: 'file', path: file, fsync: 'always' }] },
  });
  const sessions = gh.current().sessions;
  const alice = await sessions.create(ALICE);
  const bob = await sessions.create(BOB);
  const state = async (s: { cookieValue: string }) => (await sessions.lookup(s.cookieValue)).state;
  return { tx, gh, alice, bob, state, records: () => parseRecords(readNdjson(file)) };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** Each case: the SET (built from the transmitter) and the RFC 8935 code it must be refused with. */
const REFUSED: readonly (readonly [string, (tx: TestTransmitter) => Promise<string>, string])[] = [
  [
    'unsigned (alg none)',
    async (tx) =>
      `${b64({ alg: 'none', typ: 'secevent+jwt' })}.${b64({ iss: tx.issuer, aud: RECEIVER_AUDIENCE, iat: now(), jti: randomUUID(), sub_id: { format: 'email', email: ALICE.user }, events: { [SESSION_REVOKED]: {} } })}.`,
    'authentication_failed',
  ],
  [
    'HS256 (a shared secret, not the transmitter key)',
    async (tx) =>
      new SignJWT({
        iss: tx.issuer,
        aud: RECEIVER_AUDIENCE,
        jti: randomUUID(),
        sub_id: { format: 'email', email: ALICE.user },
        events: { [SESSION_REVOKED]: {} },
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'secevent+jwt' })
        .setIssuedAt()
        .sign(new TextEncoder().encode('a-shared-secret-a-shared-secret-0123')),
    'authentication_failed',
  ],
  ['signed with another key (same kid)', (tx) => tx.event(SESSION_REVOKED, ALICE.user, {}, { foreignKey: true }), 'invalid_key'],
  ['a kid the JWKS does not publish', (tx) => tx.event(SESSION_REVOKED, ALICE.user, {}, { kid: 'k-unknown' }), 'invalid_key'],
  ['wrong audience', (tx) => tx.event(SESSION_REVOKED, ALICE.user, { aud: 'https://someone-else.test' }), 'invalid_audience'],
  ['unknown issuer', (tx) => tx.event(SESSION_REVOKED, ALICE.user, { iss: 'https://evil.test' }), 'invalid_issuer'],
  ['no typ', (tx) => tx.event(SESSION_REVOKED, ALICE.user, {}, { typ: null }), 'invalid_request'],
  ['typ JWT (another kind of token)', (tx) => tx.event(SESSION_REVOKED, ALICE.user, {}, { typ: 'JWT' }), 'invalid_request'],
  ['iat older than max_age', (tx) => tx.event(SESSION_REVOKED, ALICE.user, { iat: now() - 15 * 60 }), 'invalid_request'],
  ['iat in the future', (tx) => tx.event(SESSION_REVOKED, ALICE.user, { iat: now() + 10 * 60 }), 'invalid_request'],
  ['expired (exp)', (tx) => tx.event(SESSION_REVOKED, ALICE.user, { exp: now() - 120 }), 'invalid_request'],
  ['no jti', (tx) => tx.event(SESSION_REVOKED, ALICE.user, { jti: undefined }), 'invalid_request'],
  ['no events', (tx) => tx.sign({ sub_id: { format: 'email', email: ALICE.user } }), 'invalid_request'],
  ['no subject', (tx) => tx.sign({ events: { [SESSION_REVOKED]: {} } }), 'invalid_request'],
  [
    'subject in a format the transmitter is not configured with',
    (tx) => tx.event(SESSION_REVOKED, ALICE.user, { sub_id: { format: 'opaque', id: ALICE.user } }),
    'invalid_request',
  ],
  ['not a JWT', async () => 'hello', 'invalid_request'],
  ['encrypted (JWE compact)', async () => 'a.b.c.d.e', 'invalid_request'],
];

describe('POST /.gatehouse/ssf/events refuses what it must not act on (RFC 8935 errors)', () => {
  it.each(REFUSED.map(([name, build, err]) => [name, err, build] as const))('%s → 400 %s, nothing ended', async (_name, err, build) => {
    const { tx, gh, alice, state, records } = await setUp();
    const r = await pushSet(gh.url, await build(tx));
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ err, description: expect.any(String) });
    expect(await state(alice)).toBe('active');
    await expect
      .poll(() => records().find((x) => x.event?.action === 'security_event'), { timeout: 5000 })
      .toMatchObject({ event: { outcome: 'failure', reason: err } });
  });

  it('a replayed jti is refused (and the first delivery was applied)', async () => {
    const { tx, gh, alice, state } = await setUp();
    const set = await tx.event(SESSION_REVOKED, ALICE.user);
    expect((await pushSet(gh.url, set)).status).toBe(202);
    expect(await state(alice)).toBe('revoked');
    const again = await pushSet(gh.url, set);
    expect(again.status).toBe(400);
    expect(again.body.err).toBe('invalid_request');
    expect(again.body.description).toContain('jti');
  });

  it('the wrong Content-Type, an oversize body and GET are refused', async () => {
    const { tx, gh, alice, state } = await setUp({ max_body: 2048 });
    const set = await tx.event(SESSION_REVOKED, ALICE.user);
    const asJson = await pushSet(gh.url, set, { 'content-type': 'application/json' });
    expect([asJson.status, asJson.body.err]).toEqual([400, 'invalid_request']);
    const big = await tx.event(SESSION_REVOKED, ALICE.user, { padding: 'x'.repeat(4096) });
    const oversize = await pushSet(gh.url, big);
    expect([oversize.status, oversize.body.err]).toEqual([400, 'invalid_request']);
    expect(oversize.body.description).toContain('2048 bytes');
    const get = await request(`${gh.url}/.gatehouse/ssf/events`, { headers: { accept: 'application/json' } });
    await get.body.text();
    expect(get.statusCode).toBe(405);
    expect(await state(alice)).toBe('active');
  });

  it('beyond rate_per_minute a client gets 429 with Retry-After', async () => {
    const { tx, gh } = await setUp({ rate_per_minute: 2 });
    const statuses: number[] = [];
    let retryAfter: unknown;
    for (let i = 0; i < 3; i++) {
      const r = await pushSet(gh.url, await tx.event(CREDENTIAL_CHANGE, 'nobody@corp.example'));
      statuses.push(r.status);
      retryAfter = r.headers['retry-after'];
    }
    expect(statuses).toEqual([202, 202, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it("an unreachable JWKS is our outage, not the SET's fault: 503 (the transmitter retries), as JSON", async () => {
    const tx = await startTransmitter();
    const gh = await startTestGatehouse({
      ...baseConfig(),
      session: { store: 'memory', secret: 'ssf-receiver-session-secret-0123456789abcdef', cookie: { secure: false } },
      ssf: { transmitters: [tx.entry({ jwks_url: `http://127.0.0.1:${await freePort()}/jwks` })] },
    });
    const r = await pushSet(gh.url, await tx.event(SESSION_REVOKED, ALICE.user));
    expect(r.status).toBe(503);
    expect(r.body.error).toBe('GH_IDP_UNAVAILABLE');
  });

  it('without ssf configured the endpoint does not exist', async () => {
    const gh = await startTestGatehouse(baseConfig());
    const r = await pushSet(gh.url, 'a.b.c');
    expect(r.status).toBe(404);
  });
});

describe('POST /.gatehouse/ssf/events applies valid events', () => {
  it("session-revoked ends exactly that user's sessions; 202; recorded with the transmitter as actor", async () => {
    const { tx, gh, alice, bob, state, records } = await setUp();
    const r = await pushSet(gh.url, await tx.event(SESSION_REVOKED, ALICE.user));
    expect(r.status).toBe(202);
    expect([await state(alice), await state(bob)]).toEqual(['revoked', 'active']);
    await expect
      .poll(() => records().find((x) => x.event?.action === 'security_event'), { timeout: 5000 })
      .toMatchObject({
        event: { category: ['iam'], outcome: 'success', reason: 'session-revoked' },
        gatehouse: { credential: tx.issuer, count: 1 },
        user: { target: { name: ALICE.user } },
      });
    await expect
      .poll(() => records().find((x) => x.event?.action === 'session_revoked'), { timeout: 5000 })
      .toMatchObject({ event: { reason: 'caep_session_revoked' }, user: { name: ALICE.user } });
  });

  it('credential-change ends the sessions too; legacy `subject` inside the event and `complex` subjects are understood', async () => {
    const { tx, gh, alice, bob, state } = await setUp();
    const legacy = await tx.sign({ events: { [CREDENTIAL_CHANGE]: { subject: { subject_type: 'email', email: ALICE.user } } } });
    expect((await pushSet(gh.url, legacy)).status).toBe(202);
    const complex = await tx.sign({
      sub_id: { format: 'complex', user: { format: 'email', email: BOB.user }, session: { format: 'opaque', id: 'sid-1' } },
      events: { [SESSION_REVOKED]: {} },
    });
    expect((await pushSet(gh.url, complex)).status).toBe(202);
    expect([await state(alice), await state(bob)]).toEqual(['revoked', 'revoked']);
  });

  it('unknown event types (e.g. the SSF verification event) are accepted and ignored; account-enabled ends nothing', async () => {
    const { tx, gh, alice, state } = await setUp();
    const verification = await tx.sign({
      sub_id: { format: 'opaque', id: 'stream-1' },
      events: { 'https://schemas.openid.net/secevent/ssf/event-type/verification': { state: 'abc' } },
    });
    expect((await pushSet(gh.url, verification)).status).toBe(202);
    expect((await pushSet(gh.url, await tx.event(ACCOUNT_ENABLED, ALICE.user))).status).toBe(202);
    expect(await state(alice)).toBe('active');
  });

  it('a transmitter Authorization header is not taken for a Gatehouse bearer token', async () => {
    const { tx, gh, alice, state } = await setUp();
    const r = await pushSet(gh.url, await tx.event(SESSION_REVOKED, ALICE.user), { authorization: 'Bearer transmitter-secret' });
    expect(r.status).toBe(202);
    expect(await state(alice)).toBe('revoked');
  });
});
