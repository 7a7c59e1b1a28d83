// The audit writer: stamps every record (per-process sequence, boot id), chains it (chain.ts),
// formats it (ECS or OCSF) once, and fans the line out to every sink through its own channel.
// A channel keeps a bounded in-memory queue and delivers in batches, in order. When its sink fails:
//   on_sink_failure: buffer — the queue and every later record go to the sink's disk spool and are
//                             replayed in order once the sink answers again (retry with backoff);
//   on_sink_failure: block  — records wait in memory; when a queue is full Gatehouse refuses
//                             requests (503) rather than lose a record.
import { randomUUID } from 'node:crypto';
import type { AuditMetrics } from '../admin/metrics.ts';
import type { Logger } from '../log.ts';
import { chainLine } from './chain.ts';
import { toRecord, type AuditFacts, type AuditFormat } from './record.ts';
import type { AuditSink } from './sink.ts';
import { openSpool, type Spool } from './spool.ts';

export interface AuditWriterOptions {
  readonly sinks: readonly AuditSink[];
  readonly format: AuditFormat;
  readonly onSinkFailure: 'buffer' | 'block';
  readonly spoolDir: string;
  /** Records held in memory per sink. */
  readonly queueSize: number;
  readonly batchSize?: number;
  readonly metrics?: AuditMetrics;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface AuditWriter {
  /** False when no sink is configured: callers may skip building facts. */
  readonly enabled: boolean;
  write(facts: AuditFacts): void;
  /** A request was refused (503) because records could not be taken: counted, and written as one
   * summary record once records can be taken again (memory stays bounded). */
  noteRefused(time: number): void;
  /** False in block mode when some sink cannot take another record (the request gets 503). */
  canAccept(): boolean;
  ready(): { ok: boolean; checks: Record<string, string> };
  /** Wait until every queue and spool is delivered, or `timeoutMs` passes. */
  flush(timeoutMs?: number): Promise<boolean>;
  close(timeoutMs?: number): Promise<void>;
}

// A SIEM that comes back is found again within 5 s; a retry against a down one costs little.
const MAX_BACKOFF_MS = 5_000;

class Channel {
  readonly sink: AuditSink;
  readonly #queue: string[] = [];
  readonly #spool: Spool | undefined;
  readonly #opts: AuditWriterOptions;
  #sending = false;
  /** Records in the batch being sent (taken out of the queue). */
  #inflight = 0;
  #down = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(sink: AuditSink, opts: AuditWriterOptions) {
    this.sink = sink;
    this.#opts = opts;
    this.#spool = opts.onSinkFailure === 'buffer' ? openSpool(opts.spoolDir, sink.name) : undefined;
    if (this.#spool && this.#spool.size() > 0) {
      // Records spooled by an earlier run: deliver them first.
      this.#down = true;
      this.#schedule(0);
    }
  }

  get pending(): number {
    return this.#queue.length + (this.#spool?.size() ?? 0) + this.#inflight + (this.#sending ? 1 : 0);
  }

  get healthy(): boolean {
    return !this.#down;
  }

  canAccept(): boolean {
    // Block mode: records being sent or retried still count, so a down sink closes the gate.
    return this.#spool !== undefined || this.#queue.length + this.#inflight < this.#opts.queueSize;
  }

  push(line: string): void {
    const m = this.#opts.metrics;
    if (this.#spool && (this.#down || this.#queue.length >= this.#opts.queueSize)) {
      // While the sink is down (or the queue is full), records go straight to disk, after the older ones.
      this.#spool.append([...this.#queue.splice(0), line]);
      m?.spooled.inc({ sink: this.sink.name });
      this.#gauge();
      if (!this.#down) this.#pump();
      return;
    }
    this.#queue.push(line);
    this.#gauge();
    this.#pumpSoon();
  }

  #pumpScheduled = false;

  /** Deliver after the current burst of requests, so records travel in batches, not one by one. */
  #pumpSoon(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #gauge(): void {
    this.#opts.metrics?.queued.set({ sink: this.sink.name }, this.pending);
  }

  #schedule(delay: number): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delay);
    this.#timer.unref();
  }

  #pump(): void {
    if (this.#sending || this.#closed) return;
    const batchSize = this.#opts.batchSize ?? 500;
    // Order on disk and in memory: in-flight batch < spool < queue. The spool always goes first.
    const fromSpool = this.#spool !== undefined && this.#spool.size() > 0;
    // A batch from the queue leaves it now, so overflow while it is in flight cannot move it.
    const batch = fromSpool ? this.#spool!.peek(batchSize) : this.#queue.splice(0, batchSize);
    if (batch.length === 0) return;
    this.#sending = true;
    this.#inflight = fromSpool ? 0 : batch.length;
    const m = this.#opts.metrics;
    if (this.#failures > 0) m?.retried.inc({ sink: this.sink.name });
    this.sink.send(batch).then(
      () => {
        this.#sending = false;
        this.#inflight = 0;
        if (fromSpool) this.#spool!.drop(batch.length);
        m?.written.inc({ sink: this.sink.name }, batch.length);
        if (this.#down) this.#opts.log.info({ sink: this.sink.name, spooled: this.#spool?.size() ?? 0 }, 'audit sink is back; delivering spooled records');
        this.#down = false;
        this.#failures = 0;
        this.#gauge();
        this.#pump();
      },
      (err: unknown) => {
        this.#sending = false;
        this.#inflight = 0;
        m?.failed.inc({ sink: this.sink.name });
        if (!this.#down) this.#opts.log.warn({ sink: this.sink.name, err: (err as Error).message }, this.#spool ? 'audit sink failed; spooling records to disk until it is back' : 'audit sink failed; holding records in memory');
        this.#down = true;
        this.#failures++;
        if (!fromSpool) {
          if (this.#spool) {
            // The failed batch is older than anything spooled while it was in flight.
            this.#spool.prepend(batch);
            m?.spooled.inc({ sink: this.sink.name });
          } else {
            this.#queue.unshift(...batch);
          }
        }
        if (this.#spool && this.#queue.length > 0) this.#spool.append(this.#queue.splice(0));
        this.#gauge();
        this.#schedule(Math.min(200 * 2 ** Math.min(this.#failures, 10), MAX_BACKOFF_MS));
      },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    // Whatever is still in memory goes to the spool for the next run (buffer mode).
    if (this.#spool && this.#queue.length > 0) this.#spool.append(this.#queue.splice(0));
    await this.sink.close();
  }
}

export function createAuditWriter(opts: AuditWriterOptions): AuditWriter {
  const now = opts.now ?? Date.now;
  const bootId = randomUUID();
  const channels = opts.sinks.map((s) => new Channel(s, opts));
  let sequence = 0;
  let prevHash = '';
  let refused: { count: number; first: number; last: number } | undefined;

  const append = (facts: AuditFacts) => {
    sequence++;
    const record = toRecord(facts, { sequence, bootId }, opts.format, prevHash);
    const { line, hash } = chainLine(record, prevHash, true);
    prevHash = hash;
    for (const c of channels) c.push(line);
  };

  const idle = () => channels.every((c) => c.pending === 0);

  return {
    enabled: channels.length > 0,
    write(facts) {
      // No sinks, no audit trail: skip the formatting and hashing entirely.
      if (channels.length === 0) return;
      if (refused) {
        const r = refused;
        refused = undefined;
        append({
          kind: 'auth', time: r.last, action: 'requests_refused', outcome: 'failure', reason: 'audit_unavailable',
          message: `${r.count} request(s) refused with 503 between ${new Date(r.first).toISOString()} and ${new Date(r.last).toISOString()}: the audit trail could not record them`,
          user: undefined, idp: undefined, session: undefined, requestId: undefined, clientIp: undefined, userAgent: undefined,
        });
      }
      append(facts);
    },
    noteRefused(time) {
      if (refused) {
        refused.count++;
        refused.last = time;
      } else {
        refused = { count: 1, first: time, last: time };
      }
    },
    canAccept() {
      return channels.every((c) => c.canAccept());
    },
    ready() {
      const checks: Record<string, string> = {};
      for (const c of channels) checks[`audit:${c.sink.name}`] = c.healthy && c.sink.ready() ? 'ok' : `failing (${c.pending} waiting)`;
      // In buffer mode a failing remote sink does not make us unready: records are safe on disk.
      const ok = channels.every((c) => opts.onSinkFailure === 'buffer' ? c.canAccept() : c.healthy);
      return { ok, checks };
    },
    async flush(timeoutMs = 5000) {
      const deadline = now() + timeoutMs;
      while (!idle() && now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return idle();
    },
    async close(timeoutMs = 3000) {
      const deadline = now() + timeoutMs;
      while (!idle() && now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await Promise.all(channels.map((c) => c.close()));
    },
  };
}
