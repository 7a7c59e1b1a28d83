// Session timeouts as arithmetic: which deadline ended a record, the next one, and the store TTL.
import { describe, expect, it } from 'vitest';
import { EXPIRED_GRACE_MS, Expiry } from '../../src/session/expiry.ts';
import { record } from './store.contract.ts';

const T = 1_700_000_000_000;
const r = record('alice', { createdAt: T, lastSeenAt: T, absoluteExpiresAt: T + 120_000 });

describe('Expiry', () => {
  const e = new Expiry(30_000, 120_000);

  it('ends a record idle for idleMs, or at its absolute deadline, to the millisecond', () => {
    expect(e.why(r, T + 29_999)).toBeUndefined();
    expect(e.why(r, T + 30_000)).toBe('idle');
    const used = { ...r, lastSeenAt: T + 110_000 };
    expect(e.why(used, T + 119_999)).toBeUndefined();
    expect(e.why(used, T + 120_000)).toBe('absolute');
  });

  it('names the earliest deadline; the store keeps a record the grace beyond it (its end is then recorded with its user)', () => {
    expect(e.next(r)).toBe(T + 30_000);
    expect(e.next({ ...r, lastSeenAt: T + 100_000 })).toBe(T + 120_000);
    expect(e.storeTtl(r, T)).toBe(30_000 + EXPIRED_GRACE_MS);
    expect(e.storeTtl(r, T + 100_000)).toBe(20_000 + EXPIRED_GRACE_MS);
  });
});
