// The two session timeouts as arithmetic on a record: when it ends (idle: lastSeenAt + idle_timeout,
// absolute: createdAt + absolute_timeout, kept as absoluteExpiresAt), and how long a store may keep
// it, so a backend's own TTL never outlives either deadline. No clock of its own: callers pass `at`.
import type { SessionRecord } from './store.ts';

export type ExpiredWhy = 'idle' | 'absolute';

/** How long a store keeps a record after it ended (storeTtl): a few sweep intervals (manager.ts sweepEvery, 1 min). */
export const EXPIRED_GRACE_MS = 10 * 60 * 1000;

export class Expiry {
  readonly idleMs: number;
  readonly absoluteMs: number;

  constructor(idleMs: number, absoluteMs: number) {
    this.idleMs = idleMs;
    this.absoluteMs = absoluteMs;
  }

  /** Why the record has ended at `at`, or undefined while it is live. */
  why(record: SessionRecord, at: number): ExpiredWhy | undefined {
    if (at >= record.absoluteExpiresAt) return 'absolute';
    return at - record.lastSeenAt >= this.idleMs ? 'idle' : undefined;
  }

  /** The earliest moment the record can end if it is not used again. */
  next(record: SessionRecord): number {
    return Math.min(record.absoluteExpiresAt, record.lastSeenAt + this.idleMs);
  }

  /**
   * TTL for the store when the record is written at `at`: until it ends, plus EXPIRED_GRACE_MS so
   * the sweeper finds it (or a cookie presented again soon after the end): its session_expired record
   * names the user and whether it was idle or absolute (docs/audit.md). An ended record is never
   * used: every read checks why() first and deletes it.
   */
  storeTtl(record: SessionRecord, at: number): number {
    return Math.min(this.idleMs, record.absoluteExpiresAt - at) + EXPIRED_GRACE_MS;
  }
}
