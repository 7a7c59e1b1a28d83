// The personal-access-token service over the memory store: token shape, what creation refuses,
// verification (malformed, unknown, wrong secret, expired, out of scope), the facts reported for
// the audit record, last-used throttling, and tokens.pat.recheck_groups.
import { describe, expect, it } from 'vitest';
import { createPats, isPatToken, patHash, patIdOf, type PatFacts } from '../../../src/auth/bearer/pat.ts';
import type { PatConfig } from '../../../src/config/types.ts';
import { GatehouseError } from '../../../src/errors.ts';
import { createMemoryPatStore } from '../../../src/session/pat-store.ts';

const DAY = 86_400_000;
const CONFIG: PatConfig = { enabled: true, maxTtlMs: 90 * DAY, defaultTtlMs: 30 * DAY, maxPerUser: 3, createRate: 5, recheckGroups: false };
const ALICE = { user: 'alice', email: 'alice@corp.example', name: 'Alice', groups: ['ml'], idp: 'corp' };

function setUp(config: Partial<PatConfig> = {}, currentGroups?: (user: string) => Promise<readonly string[] | undefined>) {
  let t = Date.UTC(2026, 11, 1);
  const now = () => t;
  const store = createMemoryPatStore(now);
  const pats = createPats({
    config: { ...CONFIG, ...config },
    store,
    routeNames: ['mlflow', 'labels'],
    now,
    ...(currentGroups ? { currentGroups } : {}),
  });
  return { pats, store, advance: (ms: number) => (t += ms) };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    return (err as GatehouseError).code;
  }
  throw new Error('expected a refusal');
}

describe('personal access tokens', () => {
  it('are gatehouse_pat_<16 hex id>_<256-bit secret>; only the hash is stored', async () => {
    const { pats, store } = setUp();
    const { token, record } = await pats.create({ owner: ALICE, name: 'job', routes: ['mlflow'], by: 'user' });
    expect(token).toMatch(/^gatehouse_pat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(isPatToken(token)).toBe(true);
    expect(patIdOf(token)).toBe(record.id);
    const stored = await store.get(record.id);
    expect(stored?.hash).toBe(patHash(token));
    expect(JSON.stringify(stored).includes(token.slice(-43))).toBe(false);
    expect(record).toMatchObject({
      user: 'alice',
      groups: ['ml'],
      routes: ['mlflow'],
      expiresAt: record.createdAt + 30 * DAY,
      createdBy: 'user',
    });
  });

  it('creation refuses bad names, unknown or no routes, lifetimes over max_ttl, and too many', async () => {
    const { pats } = setUp({ createRate: 4 });
    const create = (over: object) => pats.create({ owner: ALICE, name: 'ok', routes: ['mlflow'], by: 'user', ...over });
    expect(await refusal(create({ name: '' }))).toBe('GH_BAD_REQUEST');
    expect(await refusal(create({ name: 'x'.repeat(101) }))).toBe('GH_BAD_REQUEST');
    expect(await refusal(create({ name: '<script>' }))).toBe('GH_BAD_REQUEST');
    expect(await refusal(create({ routes: [] }))).toBe('GH_BAD_REQUEST');
    expect(await refusal(create({ routes: ['mlflow', 'admin'] }))).toBe('GH_BAD_REQUEST');
    expect(await refusal(create({ ttlMs: 91 * DAY }))).toBe('GH_BAD_REQUEST');
    expect(await refusal(create({ ttlMs: 1000 }))).toBe('GH_BAD_REQUEST');
    // max_per_user 3 live tokens, then create_rate 4 per hour.
    for (let i = 0; i < 3; i++) await create({ name: `t${i}` });
    expect(await refusal(create({ name: 't3' }))).toBe('GH_TOO_MANY_TOKENS');
    expect(await refusal(create({ name: 't4' }))).toBe('GH_TOO_MANY_TOKENS');
    await pats.revokeUser('alice');
    expect(await refusal(create({ name: 't5' }))).toBe('GH_TOO_MANY_TOKENS');
    // Another user has a budget of their own.
    expect((await pats.create({ owner: { ...ALICE, user: 'bob' }, name: 'b', routes: ['labels'], by: 'admin' })).record.user).toBe('bob');
  });

  it('verify: the owner on its routes; malformed, unknown, guessed, expired and out-of-scope tokens refused, with facts reported', async () => {
    const { pats, store, advance } = setUp();
    const { token, record } = await pats.create({ owner: ALICE, name: 'job', routes: ['mlflow'], ttlMs: DAY, by: 'user' });
    const facts: PatFacts[] = [];
    const seen = (f: PatFacts) => facts.push(f);
    expect(await pats.verify(token, 'mlflow', seen)).toEqual({
      user: 'alice',
      email: 'alice@corp.example',
      name: 'Alice',
      groups: ['ml'],
      idp: 'corp',
      method: 'pat',
      tokenId: record.id,
      tokenName: 'job',
    });
    expect(facts.at(-1)).toEqual({ id: record.id, name: 'job' });
    expect(await refusal(pats.verify(token, 'labels', seen))).toBe('GH_FORBIDDEN');
    expect(await refusal(pats.verify(token, undefined, seen))).toBe('GH_FORBIDDEN');
    expect(await refusal(pats.verify('gatehouse_pat_short', 'mlflow', seen))).toBe('GH_BAD_TOKEN');
    const guessed = `gatehouse_pat_${record.id}_${'A'.repeat(43)}`;
    facts.length = 0;
    expect(await refusal(pats.verify(guessed, 'mlflow', seen))).toBe('GH_BAD_TOKEN');
    // A refused token is reported by id only: the name is shown once the secret matched.
    expect(facts).toEqual([{ id: record.id, name: undefined }]);
    expect((await store.listUser('alice'))[0]?.lastUsedAt).toBeDefined();
    advance(DAY);
    expect(await refusal(pats.verify(token, 'mlflow', seen))).toBe('GH_BAD_TOKEN');
  });

  it('last use is written at most once a minute per token', async () => {
    const { pats, store, advance } = setUp();
    const { token } = await pats.create({ owner: ALICE, name: 'job', routes: ['mlflow'], by: 'user' });
    const lastUsed = async () => (await store.listUser('alice'))[0]?.lastUsedAt;
    await pats.verify(token, 'mlflow', () => {});
    const first = await lastUsed();
    advance(30_000);
    await pats.verify(token, 'mlflow', () => {});
    expect(await lastUsed()).toBe(first);
    advance(31_000);
    await pats.verify(token, 'mlflow', () => {});
    expect(await lastUsed()).toBe((first ?? 0) + 61_000);
  });

  it('recheck_groups: the groups of the newest session when there is one, else those captured', async () => {
    const current = new Map<string, readonly string[]>([['alice', ['labelers']]]);
    const { pats } = setUp({ recheckGroups: true }, async (user) => current.get(user));
    const { token } = await pats.create({ owner: ALICE, name: 'job', routes: ['mlflow'], by: 'user' });
    expect((await pats.verify(token, 'mlflow', () => {})).groups).toEqual(['labelers']);
    current.delete('alice');
    expect((await pats.verify(token, 'mlflow', () => {})).groups).toEqual(['ml']);
    // Off (the default): always the captured groups.
    const off = setUp({}, async () => ['labelers']);
    const t2 = await off.pats.create({ owner: ALICE, name: 'job', routes: ['mlflow'], by: 'user' });
    expect((await off.pats.verify(t2.token, 'mlflow', () => {})).groups).toEqual(['ml']);
  });
});
