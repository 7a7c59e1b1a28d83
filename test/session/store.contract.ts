// One contract for every SessionStore backend (memory-store.test.ts, redis-store.test.ts).
// Expiry is exercised with short, bounded real TTLs; long-timeout logic is tested through the
// manager with an injected clock (manager.test.ts).
import { describe, expect, it } from 'vitest';
import { subjectIndex, userIndex, type SessionRecord, type SessionStore } from '../../src/session/store.ts';

export interface StoreHarness {
  /** A fresh store with its own key space; closed by the harness after the test. */
  make(): Promise<SessionStore>;
  /** Known gaps of this backend, each with the reason. */
  readonly skip?: Readonly<Record<string, string>>;
}

export function record(user: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return { v: 1, user, email: `${user}@corp.example`, groups: ['g1'], idp: 'corp', method: 'test', createdAt: now, lastSeenAt: now, absoluteExpiresAt: now + 3_600_000, ...overrides };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runSessionStoreContract(name: string, harness: StoreHarness): void {
  const test = (title: string, fn: () => Promise<void>) => {
    const reason = harness.skip?.[title];
    if (reason) it.skip(`${title} (skipped: ${reason})`, fn);
    else it(title, fn);
  };

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
      const user = 'o\'brien:{x}*?[a] ü@corp.example';
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

    test('ephemeral values are read once and expire', async () => {
      const s = await harness.make();
      await s.putEphemeral('login:abc', '{"x":1}', 60_000);
      expect(await s.takeEphemeral('login:abc')).toBe('{"x":1}');
      expect(await s.takeEphemeral('login:abc')).toBeUndefined();
      await s.putEphemeral('login:short', 'v', 100);
      await sleep(250);
      expect(await s.takeEphemeral('login:short')).toBeUndefined();
    });

    test('pending values are read once and bounded in total, apart from other values', async () => {
      const s = await harness.make();
      const b = { max: 2, owner: 'browser-1', perOwner: 5 };
      expect(await s.putPending('login:a', 'A', 60_000, b)).toEqual({ ok: true });
      expect(await s.putPending('login:b', 'B', 60_000, { ...b, owner: 'browser-2' })).toEqual({ ok: true });
      const refused = await s.putPending('login:c', 'C', 60_000, { ...b, owner: 'browser-3' });
      expect(refused.ok).toBe(false);
      expect(refused.ok ? 0 : refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.ok ? Infinity : refused.retryAfterMs).toBeLessThanOrEqual(60_000);
      // The bound is the pending values' own: other short-lived values are neither refused nor evicted.
      await s.putEphemeral('other', 'x', 60_000);
      expect(await s.putOnce('jti:pending', 60_000)).toBe(true);
      expect(await s.takePending('login:c')).toBeUndefined();
      // Taking one frees its place at once.
      expect(await s.takePending('login:a')).toEqual({ value: 'A', ownerPending: 0 });
      expect(await s.takePending('login:a')).toBeUndefined();
      expect(await s.putPending('login:c', 'C', 60_000, { ...b, owner: 'browser-3' })).toEqual({ ok: true });
      expect((await s.takePending('login:b'))?.value).toBe('B');
      expect((await s.takePending('login:c'))?.value).toBe('C');
      expect(await s.takeEphemeral('other')).toBe('x');
    });

    test('an owner keeps at most perOwner pending values: the oldest goes', async () => {
      const s = await harness.make();
      const b = { max: 100, owner: 'browser-1', perOwner: 2 };
      for (const n of ['p1', 'p2', 'p3']) {
        expect(await s.putPending(n, n.toUpperCase(), 60_000, b)).toEqual({ ok: true });
        await sleep(5);
      }
      expect(await s.putPending('q1', 'Q1', 60_000, { ...b, owner: 'browser-2' })).toEqual({ ok: true });
      expect(await s.takePending('p1')).toBeUndefined();
      // Taking one tells how many of its owner's are still waiting (other tabs).
      expect(await s.takePending('p2')).toEqual({ value: 'P2', ownerPending: 1 });
      expect(await s.takePending('p3')).toEqual({ value: 'P3', ownerPending: 0 });
      expect(await s.takePending('q1')).toEqual({ value: 'Q1', ownerPending: 0 });
    });

    test('pending values expire and free their place', async () => {
      const s = await harness.make();
      const b = { max: 1, owner: 'o', perOwner: 5 };
      expect(await s.putPending('x', 'X', 150, b)).toEqual({ ok: true });
      expect((await s.putPending('y', 'Y', 150, b)).ok).toBe(false);
      await sleep(300);
      expect(await s.putPending('y', 'Y', 150, b)).toEqual({ ok: true });
      expect(await s.takePending('x')).toBeUndefined();
      expect((await s.takePending('y'))?.value).toBe('Y');
    });

    test('putOnce detects replays until the marker expires', async () => {
      const s = await harness.make();
      expect(await s.putOnce('jti:1', 150)).toBe(true);
      expect(await s.putOnce('jti:1', 150)).toBe(false);
      await sleep(300);
      expect(await s.putOnce('jti:1', 150)).toBe(true);
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
