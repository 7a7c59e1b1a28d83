// One contract for every PatStore backend (pat-store.test.ts runs it against memory and Redis):
// records by id, per-user and global listing, revocation, last-used times, expiry by the record's
// own expiresAt, and the shared creation counter.
import { describe, expect, it } from 'vitest';
import type { PatRecord, PatStore } from '../../src/session/pat-store.ts';

export interface PatHarness {
  /** A fresh, empty store; `now` is the store's clock. */
  make(now?: () => number): Promise<PatStore>;
}

let n = 0;
export function patRecord(over: Partial<PatRecord> = {}): PatRecord {
  n += 1;
  const t = Date.now();
  return {
    id: (0x1000_0000_0000_0000n + BigInt(n)).toString(16).slice(-16).padStart(16, '0'),
    hash: `hash-${n}`,
    name: `token ${n}`,
    user: 'alice@corp.example',
    email: 'alice@corp.example',
    displayName: 'Alice',
    groups: ['ml'],
    idp: 'corp',
    routes: ['mlflow'],
    createdAt: t + n,
    expiresAt: t + 3_600_000,
    createdBy: 'user',
    ...over,
  };
}

export function runPatStoreContract(name: string, harness: PatHarness): void {
  describe(`PatStore contract: ${name}`, () => {
    it('keeps a record by id, lists it under its user and in the global list, oldest first', async () => {
      const s = await harness.make();
      const a = patRecord();
      const b = patRecord();
      const c = patRecord({ user: 'bob@corp.example' });
      for (const r of [b, a, c]) await s.put(r);
      expect(await s.get(a.id)).toEqual(a);
      expect((await s.listUser('alice@corp.example')).map((r) => r.id)).toEqual([a.id, b.id]);
      expect((await s.listUser('bob@corp.example')).map((r) => r.id)).toEqual([c.id]);
      expect((await s.listAll()).map((r) => r.id)).toEqual([a.id, b.id, c.id]);
      expect(await s.get('ffffffffffffffff')).toBeUndefined();
    });

    it('revokes one token, then all of a user, and says what it revoked', async () => {
      const s = await harness.make();
      const a = patRecord();
      const b = patRecord();
      const c = patRecord({ user: 'bob@corp.example' });
      for (const r of [a, b, c]) await s.put(r);
      expect((await s.revoke(a.id))?.id).toBe(a.id);
      expect(await s.revoke(a.id)).toBeUndefined();
      expect(await s.get(a.id)).toBeUndefined();
      expect((await s.revokeUser('alice@corp.example')).map((r) => r.id)).toEqual([b.id]);
      expect(await s.listUser('alice@corp.example')).toEqual([]);
      expect((await s.listAll()).map((r) => r.id)).toEqual([c.id]);
    });

    it('an expired record is gone from get and the lists', async () => {
      let t = Date.now();
      const s = await harness.make(() => t);
      const r = patRecord({ expiresAt: t + 60_000 });
      await s.put(r);
      expect(await s.get(r.id)).toBeDefined();
      t += 61_000;
      expect(await s.get(r.id)).toBeUndefined();
      expect(await s.listUser(r.user)).toEqual([]);
      expect(await s.listAll()).toEqual([]);
    });

    it('remembers when a live token was last used, and nothing for an unknown one', async () => {
      const s = await harness.make();
      const r = patRecord();
      await s.put(r);
      expect((await s.listUser(r.user))[0]?.lastUsedAt).toBeUndefined();
      await s.markUsed(r.id, 1_234_567);
      expect((await s.listUser(r.user))[0]?.lastUsedAt).toBe(1_234_567);
      await s.markUsed('0000000000000bad', 1);
      expect((await s.listAll()).map((x) => x.id)).toEqual([r.id]);
    });

    it('counts creations per user within a window', async () => {
      const s = await harness.make();
      expect(await s.countCreation('alice', 60_000)).toBe(1);
      expect(await s.countCreation('alice', 60_000)).toBe(2);
      expect(await s.countCreation('bob', 60_000)).toBe(1);
    });
  });
}
