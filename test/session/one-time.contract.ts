// One contract for every OneTimeStore backend (memory-store.test.ts, redis-store.test.ts): single-use
// values, bounded pending sign-ins and replay markers. Expiry is exercised with short, bounded
// real TTLs. Session records have their own suite (store.contract.ts).
import { describe, expect } from 'vitest';
import { createReplayGuard, type OneTimeStore } from '../../src/session/one-time.ts';
import { sleep, withDeclaredGaps, type StoreHarness } from './store.contract.ts';

export function runOneTimeStoreContract(name: string, harness: StoreHarness<OneTimeStore>): void {
  const test = withDeclaredGaps(harness.skip);

  describe(`OneTimeStore contract: ${name}`, () => {
    test('ephemeral values are read once and expire', async () => {
      const s = await harness.make();
      await s.put('login:abc', '{"x":1}', 60_000);
      expect(await s.take('login:abc')).toBe('{"x":1}');
      expect(await s.take('login:abc')).toBeUndefined();
      await s.put('login:short', 'v', 100);
      await sleep(250);
      expect(await s.take('login:short')).toBeUndefined();
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
      await s.put('other', 'x', 60_000);
      expect(await s.once('jti:pending', 60_000)).toBe(true);
      expect(await s.takePending('login:c')).toBeUndefined();
      // Taking one frees its place at once.
      expect(await s.takePending('login:a')).toEqual({ value: 'A', ownerPending: 0 });
      expect(await s.takePending('login:a')).toBeUndefined();
      expect(await s.putPending('login:c', 'C', 60_000, { ...b, owner: 'browser-3' })).toEqual({ ok: true });
      expect((await s.takePending('login:b'))?.value).toBe('B');
      expect((await s.takePending('login:c'))?.value).toBe('C');
      expect(await s.take('other')).toBe('x');
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

    test('once detects replays until the marker expires', async () => {
      const s = await harness.make();
      expect(await s.once('jti:1', 150)).toBe(true);
      expect(await s.once('jti:1', 150)).toBe(false);
      await sleep(300);
      expect(await s.once('jti:1', 150)).toBe(true);
    });

    test('a replay marker can be forgotten (a message that was not acted on may come again)', async () => {
      const replay = createReplayGuard(await harness.make());
      expect(await replay.once('ssf-jti', 'https://tx.test', 'j1', 60_000)).toBe(true);
      expect(await replay.once('ssf-jti', 'https://tx.test', 'j1', 60_000)).toBe(false);
      await replay.forget('ssf-jti', 'https://tx.test', 'j1');
      expect(await replay.once('ssf-jti', 'https://tx.test', 'j1', 60_000)).toBe(true);
      // Scoped by issuer: the same jti from another transmitter is another message.
      expect(await replay.once('ssf-jti', 'https://other.test', 'j1', 60_000)).toBe(true);
    });
  });
}
