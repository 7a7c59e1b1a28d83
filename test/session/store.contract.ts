// One contract for every SessionStore backend (memory-store.test.ts, redis-store.test.ts): records,
// indexes, tombstones, notifications, readiness. One-time values have their own suite
// (one-time.contract.ts). Expiry is exercised with short, bounded real TTLs; long-timeout logic is
// tested through the manager with an injected clock (manager.test.ts).
import { describe, expect, it } from 'vitest';
import { subjectIndex, userIndex, type SessionRecord, type SessionStore } from '../../src/session/store.ts';

export interface StoreHarness<S = SessionStore> {
  /** A fresh store with its own key space; closed by the harness after the test. */
  make(): Promise<S>;
  /** Known gaps of this backend, each with the reason. */
  readonly skip?: Readonly<Record<string, string>>;
}

/** `it`, except that a declared gap (harness.skip) is skipped with its reason in the title. */
export function withDeclaredGaps(skip: StoreHarness<unknown>['skip']) {
  return (title: string, fn: () => Promise<void>) => {
    const reason = skip?.[title];
    if (reason) it.skip(`${title} (skipped: ${reason})`, fn);
    else it(title, fn);
  };
}

export function record(user: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return {
    v: 1,
    user,
    email: `${user}@corp.example`,
    groups: ['g1'],
    idp: 'corp',
    method: 'test',
    createdAt: now,
    lastSeenAt: now,
    absoluteExpiresAt: now + 3_600_000,
    ...overrides,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runSessionStoreContract(name: string, harness: StoreHarness): void {
  const test = withDeclaredGaps(harness.skip);

  describe(`SessionStore contract: ${name}`, () => {
    test('set then get returns the record; unknown keys are undefined', async () => {
      const s = await harness.make();
      const r = record('alice');
      await s.set('k1', r, 60_000);
      expect(await s.get('k1')).toEqual(r);
      expect(await s.get('nope')).toBeUndefined();
    });

    test('a record is gone after its TTL', async () => {
      const s = await harness.make();
      await s.set('k1', record('alice'), 150);
      expect(await s.get('k1')).toBeDefined();
      await sleep(300);
      expect(await s.get('k1')).toBeUndefined();
    });

    test('touch replaces the record and extends the TTL, but never resurrects', async () => {
      const s = await harness.make();
      const r = record('alice');
      await s.set('k1', r, 200);
      const later = { ...r, lastSeenAt: r.lastSeenAt + 1000 };
      expect(await s.touch('k1', later, 60_000)).toBe(true);
      await sleep(300);
      expect(await s.get('k1')).toEqual(later);
      await s.delete('k1');
      expect(await s.touch('k1', later, 60_000)).toBe(false);
      expect(await s.get('k1')).toBeUndefined();
    });

    test('revoke deletes, leaves a tombstone, and notifies', async () => {
      const s = await harness.make();
      const seen: string[][] = [];
      s.onRevoked((keys) => {
        if (keys) seen.push([...keys]);
      });
      await s.set('k1', record('alice'), 60_000);
      expect(await s.revoke('k1', 60_000)).toBe(true);
      expect(await s.get('k1')).toBeUndefined();
      expect(await s.wasRevoked('k1')).toBe(true);
      expect(await s.wasRevoked('k2')).toBe(false);
      await expect.poll(() => seen.flat()).toContain('k1');
      expect(await s.revoke('k1', 60_000)).toBe(false);
    });

    test('delete removes without a tombstone', async () => {
      const s = await harness.make();
      await s.set('k1', record('alice'), 60_000);
      await s.delete('k1');
      expect(await s.get('k1')).toBeUndefined();
      expect(await s.wasRevoked('k1')).toBe(false);
    });

    test('listByUser returns only live sessions of that user', async () => {
      const s = await harness.make();
      await s.set('a1', record('alice'), 60_000);
      await s.set('a2', record('alice'), 60_000);
      await s.set('a3', record('alice'), 100);
      await s.set('b1', record('bob'), 60_000);
      await sleep(250);
      const list = await s.listIndex(userIndex('alice'));
      expect(list.map(([k]) => k).sort()).toEqual(['a1', 'a2']);
      expect(list.every(([, r]) => r.user === 'alice')).toBe(true);
      expect(await s.listIndex(userIndex('nobody'))).toEqual([]);
    });

    test('revokeUser ends every session of the user and no one else', async () => {
      const s = await harness.make();
      const seen: string[] = [];
      s.onRevoked((keys) => seen.push(...(keys ?? [])));
      await s.set('a1', record('alice@corp.example'), 60_000);
      await s.set('a2', record('alice@corp.example'), 60_000);
      await s.set('b1', record('bob'), 60_000);
      expect((await s.revokeIndex(userIndex('alice@corp.example'), 60_000)).sort()).toEqual(['a1', 'a2']);
      expect(await s.get('a1')).toBeUndefined();
      expect(await s.get('a2')).toBeUndefined();
      expect(await s.get('b1')).toBeDefined();
      expect(await s.wasRevoked('a2')).toBe(true);
      expect(await s.listIndex(userIndex('alice@corp.example'))).toEqual([]);
      await expect.poll(() => seen.sort()).toEqual(['a1', 'a2']);
    });

    test('a user name with odd characters is just a name', async () => {
      const s = await harness.make();
      const user = "o'brien:{x}*?[a] ü@corp.example";
      await s.set('k1', record(user), 60_000);
      expect((await s.listIndex(userIndex(user))).map(([k]) => k)).toEqual(['k1']);
      expect(await s.revokeIndex(userIndex(user), 60_000)).toEqual(['k1']);
    });

    test('indexes sessions by IdP subject and IdP session too', async () => {
      const s = await harness.make();
      await s.set('k1', record('alice', { subject: 'sub-1', idpSession: 'sid-1' }), 60_000);
      await s.set('k2', record('alice', { subject: 'sub-1', idpSession: 'sid-2' }), 60_000);
      await s.set('k3', record('carol', { idp: 'other', subject: 'sub-1' }), 60_000);
      expect((await s.listIndex(subjectIndex('corp', 'sub-1'))).map(([k]) => k).sort()).toEqual(['k1', 'k2']);
      expect(await s.revokeIndex('sid:corp:sid-2', 60_000)).toEqual(['k2']);
      expect(await s.get('k1')).toBeDefined();
      expect((await s.revokeIndex(subjectIndex('corp', 'sub-1'), 60_000)).sort()).toEqual(['k1']);
      expect(await s.get('k3')).toBeDefined();
    });

    test('is ready and answers ping', async () => {
      const s = await harness.make();
      expect(s.isReady()).toBe(true);
      await expect(s.ping()).resolves.toBeUndefined();
    });

    test('answers pings one after another and concurrently (readiness PINGs; issue 12)', async () => {
      const s = await harness.make();
      for (let i = 0; i < 3; i++) await expect(s.ping()).resolves.toBeUndefined();
      await expect(Promise.all(Array.from({ length: 20 }, () => s.ping()))).resolves.toHaveLength(20);
    });
  });
}
