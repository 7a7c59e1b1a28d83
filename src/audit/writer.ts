// The audit writer: stamps every record (per-process sequence, boot id), chains it (chain.ts),
// formats it (ECS or OCSF) once, and fans the line out to every sink through its own channel.
// A channel keeps a bounded in-memory queue and delivers in batches, in order. When its sink fails:
//   on_sink_failure: buffer — the queue and every later record go to the sink's disk spool and are
//                             replayed in order once the sink answers again (retry with backoff);
//   on_sink_failure: block  — records wait in memory; when a queue is full Gatehouse refuses
//                             requests (503) rather than lose a record.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.ts';
import { chainLine } from './chain.ts';
import { ChainHeadKeeper, loadChainHead } from './chain-head.ts';
import { DrainPacer } from './drain-pacer.ts';
import { toRecord, type AuditFacts, type AuditFormat } from './record.ts';
import { isPermanentFailure, type AuditSink, type PartialDelivery } from './sink.ts';
import { openSpool, type Spool } from './spool.ts';

/** The counters the writer keeps, by sink (admin/metrics.ts provides them as Prometheus series). */
export interface AuditMetrics {
  readonly written: { inc(labels: { sink: string }, value?: number): void };
  readonly queued: { set(labels: { sink: string }, value: number): void };
  readonly spooled: { inc(labels: { sink: string }, value?: number): void };
  readonly retried: { inc(labels: { sink: string }, value?: number): void };
  readonly failed: { inc(labels: { sink: string }, value?: number): void };
}

export interface AuditWriterOptions {
  readonly sinks: readonly AuditSink[];
  readonly format: AuditFormat;
  readonly onSinkFailure: 'buffer' | 'block';
  readonly spoolDir: string;
  /** Records held in memory per sink. */
  readonly queueSize: number;
  readonly batchSize?: number;
  /** Spooled records delivered per second at most, per sink, while a spool drains (default 20,000). */
  readonly drainRate?: number;
  /** Spool segment size in bytes (default 16 MB). */
  readonly spoolSegmentBytes?: number;
  /** The pause after a permanent refusal (sink.ts PermanentFailure) before the next try (default 5 min). */
  readonly permanentRetryMs?: number;
  readonly metrics?: AuditMetrics;
  readonly log: Logger;
  readonly now?: () => number;
  /** audit.chain_key_file's key: the chain's hashes are HMAC-SHA256 with it (chain.ts). */
  readonly chainKey?: Buffer | undefined;
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
  /** Records the slowest sink has not yet taken (its memory queue, batch in flight and spool). */
  backlog(): number;
  ready(): { ok: boolean; checks: Record<string, string> };
  /** Wait until every queue and spool is delivered, or `timeoutMs` passes. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Writes the final record and closes the sinks; a later call waits for the first. */
  close(timeoutMs?: number): Promise<void>;
}

// A SIEM that comes back is found again within 5 s; a retry against a down one costs little.
const MAX_BACKOFF_MS = 5_000;
// A receiver that refuses for good (a bad token, a missing index) is not hammered every 5 s: an
// operator has to act, and is told so; the records wait (spool or memory) and are tried again rarely.
const PERMANENT_RETRY_MS = 300_000;
const DEFAULT_DRAIN_RATE = 20_000;
// A memory batch leaves at most this often, unless a full one waits: under load records go out in
// fewer, larger writes (each write is a hand-off to the thread pool or a syscall, and it cost more
// than the records in it: bench/proxy.ts, docs/performance.md). An idle writer sends at once.
const BATCH_INTERVAL_MS = 10;

/** How many leading lines a failed send() got acknowledged (PartialDelivery), 0..max. */
function deliveredBefore(err: unknown, max: number): number {
  const d = (err as Partial<PartialDelivery> | undefined)?.delivered;
  return typeof d === 'number' && Number.isInteger(d) && d > 0 ? Math.min(d, max) : 0;
}

/**
 * One sink's delivery. Records are in exactly one place, in this order:
 *   spool (disk, buffer mode)  <  in-flight batch  <  memory queue
 * except that a memory batch in flight is copied to the spool's front when the spool starts (the
 * queue overflowed or the batch failed), so the spool alone holds everything undelivered; the
 * batch is then consumed from the spool if it succeeds. While the spool holds anything, new
 * records go to it, so order is kept; it drains in batches paced by drain-pacer.ts (at most
 * `drainRate` records/s, slower while the event loop lags), so a large spool never starves requests.
 */
class Channel {
  readonly sink: AuditSink;
  readonly #queue: string[] = [];
  readonly #spool: Spool | undefined;
  readonly #opts: AuditWriterOptions;
  readonly #batchSize: number;
  /** Records that make a batch leave without waiting out BATCH_INTERVAL_MS. */
  readonly #fullBatch: number;
  readonly #pacer: DrainPacer;
  #sending = false;
  /** When the last memory batch left (performance.now(): a clock set back cannot hold batches). */
  #lastSend = Number.NEGATIVE_INFINITY;
  /** The memory batch being sent, and whether it was also copied to the spool. */
  #inflight: string[] | undefined;
  #inflightOnDisk = false;
  #down = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #pumpScheduled = false;
  /** Records appended to the spool since #arrivedSince: how fast the spool fills meanwhile. */
  #arrived = 0;
  #spoolErrorLogged = false;
  #arrivedSince = Date.now();

  constructor(sink: AuditSink, opts: AuditWriterOptions, pacer: DrainPacer) {
    this.sink = sink;
    this.#opts = opts;
    this.#batchSize = opts.batchSize ?? 500;
    // A small queue_size (block mode refuses requests when it is full) is not held back.
    this.#fullBatch = Math.max(1, Math.min(this.#batchSize, Math.floor(opts.queueSize / 4)));
    this.#pacer = pacer;
    this.#spool =
      opts.onSinkFailure === 'buffer'
        ? openSpool(opts.spoolDir, sink.name, opts.spoolSegmentBytes ? { segmentBytes: opts.spoolSegmentBytes } : {})
        : undefined;
    if (this.#spool && this.#spool.size() > 0) {
      // Records spooled by an earlier run: deliver them first.
      this.#down = true;
      this.#schedule(0);
    }
  }

  get pending(): number {
    const inflight = this.#inflight && !this.#inflightOnDisk ? this.#inflight.length : 0;
    return this.#queue.length + (this.#spool?.size() ?? 0) + inflight;
  }

  get healthy(): boolean {
    return !this.#down;
  }

  get spoolError(): Error | undefined {
    return this.#spool?.error;
  }

  canAccept(): boolean {
    // Buffer mode takes records while the disk does; block mode counts records being sent or
    // retried too, so a down sink closes the gate.
    if (this.#spool) return this.#spool.error === undefined;
    return this.#queue.length + (this.#inflight?.length ?? 0) < this.#opts.queueSize;
  }

  push(line: string): void {
    const spool = this.#spool;
    if (spool && (spool.size() > 0 || this.#down || this.#queue.length >= this.#opts.queueSize)) {
      if (spool.size() === 0) {
        // The spool starts: it takes the memory batch in flight (if any) and the queue first.
        const head = this.#inflight && !this.#inflightOnDisk ? this.#inflight : [];
        if (head.length > 0) this.#inflightOnDisk = true;
        spool.append([...head, ...this.#queue.splice(0), line]);
      } else {
        spool.append([line]);
      }
      this.#opts.metrics?.spooled.inc({ sink: this.sink.name });
      this.#arrived++;
      this.#noteSpoolError(spool);
      this.#gauge();
      if (!this.#down) this.#pumpSoon();
      return;
    }
    this.#queue.push(line);
    // While the sink is healthy the gauge is set when a batch leaves, is delivered or fails (a
    // prom-client set per record cost a sixth as much as building the record); while it is down,
    // at every record.
    if (this.#down) this.#gauge();
    this.#pumpSoon();
  }

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
    if (this.#sending || this.#closed || this.#timer) return;
    if (this.#spool && this.#spool.size() > 0) {
      this.#drain(this.#spool);
      return;
    }
    if (this.#queue.length === 0) return;
    const now = performance.now();
    const wait = this.#lastSend + BATCH_INTERVAL_MS - now;
    if (wait > 0 && this.#queue.length < this.#fullBatch && this.#failures === 0) {
      this.#schedule(wait);
      return;
    }
    this.#lastSend = now;
    const batch = this.#queue.splice(0, this.#batchSize);
    this.#sending = true;
    this.#inflight = batch;
    this.#inflightOnDisk = false;
    this.#gauge();
    if (this.#failures > 0) this.#opts.metrics?.retried.inc({ sink: this.sink.name });
    this.sink.send(batch).then(
      () => {
        const onDisk = this.#settleInflight();
        if (onDisk) this.#spool!.consume(batch);
        this.#delivered(batch.length);
        this.#pump();
      },
      (err: unknown) => {
        const onDisk = this.#settleInflight();
        const n = deliveredBefore(err, batch.length);
        if (n > 0) {
          if (onDisk) this.#spool!.consume(batch.slice(0, n));
          this.#opts.metrics?.written.inc({ sink: this.sink.name }, n);
        }
        // A batch that is not on disk yet is older than anything spooled (the spool was empty
        // when it left) and than anything queued since.
        const rest = batch.slice(n);
        if (!onDisk && this.#spool) {
          if (!this.#closed) {
            this.#spool.append([...rest, ...this.#queue.splice(0)]);
            this.#opts.metrics?.spooled.inc({ sink: this.sink.name });
          }
        } else if (!onDisk) {
          this.#queue.unshift(...rest);
        }
        this.#failed(err);
      },
    );
  }

  #settleInflight(): boolean {
    const onDisk = this.#inflightOnDisk;
    this.#sending = false;
    this.#inflight = undefined;
    this.#inflightOnDisk = false;
    return onDisk && !this.#closed;
  }

  /** Send the spool's oldest batch; the next one follows after an event-loop turn, paced. */
  #drain(spool: Spool): void {
    this.#sending = true;
    spool.read(this.#batchSize).then(
      (batch) => {
        if (this.#closed || batch.length === 0) {
          this.#sending = false;
          return;
        }
        if (this.#failures > 0) this.#opts.metrics?.retried.inc({ sink: this.sink.name });
        const started = Date.now();
        this.sink.send(batch).then(
          () => {
            this.#sending = false;
            if (this.#closed) return;
            spool.consume(batch);
            this.#delivered(batch.length);
            const pause = this.#pacer.pause(batch.length, Date.now() - started, this.#arrivalRate());
            // The next batch leaves once the cursor says this one is delivered: a SIGKILL then
            // repeats at most the batch in flight.
            this.#sending = true;
            void spool.cursorSaved().then(() => {
              this.#sending = false;
              if (pause > 0) this.#schedule(pause);
              else this.#pumpSoon();
            });
          },
          (err: unknown) => {
            this.#sending = false;
            const n = deliveredBefore(err, batch.length);
            if (n > 0 && !this.#closed) {
              spool.consume(batch.slice(0, n));
              this.#opts.metrics?.written.inc({ sink: this.sink.name }, n);
            }
            this.#failed(err);
          },
        );
      },
      (err: unknown) => {
        this.#sending = false;
        this.#failed(err);
      },
    );
  }

  /** Say once when the disk stops taking records (they wait in memory; requests get 503). */
  #noteSpoolError(spool: Spool): void {
    const err = spool.error;
    if (err && !this.#spoolErrorLogged)
      this.#opts.log.error(
        { sink: this.sink.name, err: err.message },
        'audit spool cannot write to disk; holding records in memory and refusing requests until it can',
      );
    this.#spoolErrorLogged = err !== undefined;
  }

  /** Records/s added to the spool over the last second or so. */
  #arrivalRate(): number {
    const now = Date.now();
    const rate = (this.#arrived * 1000) / Math.max(1, now - this.#arrivedSince);
    if (now - this.#arrivedSince > 1000) {
      this.#arrived = 0;
      this.#arrivedSince = now;
    }
    return rate;
  }

  #delivered(n: number): void {
    this.#opts.metrics?.written.inc({ sink: this.sink.name }, n);
    if (this.#down)
      this.#opts.log.info({ sink: this.sink.name, spooled: this.#spool?.size() ?? 0 }, 'audit sink is back; delivering spooled records');
    this.#down = false;
    this.#failures = 0;
    this.#gauge();
  }

  #failed(err: unknown): void {
    this.#opts.metrics?.failed.inc({ sink: this.sink.name });
    const permanent = isPermanentFailure(err);
    const retryMs = this.#opts.permanentRetryMs ?? PERMANENT_RETRY_MS;
    if (permanent) {
      // Every time: each refusal needs an operator (an alert rule on this message or on the failed counter).
      this.#opts.log.error(
        { sink: this.sink.name, err: (err as Error).message, retry_in_s: Math.round(retryMs / 1000) },
        `audit sink refuses records (not a transient failure); ${this.#spool ? 'they stay spooled on disk' : 'they are held in memory'}; fix the sink's settings`,
      );
    } else if (!this.#down) {
      this.#opts.log.warn(
        { sink: this.sink.name, err: (err as Error).message },
        this.#spool ? 'audit sink failed; spooling records to disk until it is back' : 'audit sink failed; holding records in memory',
      );
    }
    this.#down = true;
    this.#failures++;
    this.#gauge();
    this.#schedule(permanent ? retryMs : Math.min(200 * 2 ** Math.min(this.#failures, 10), MAX_BACKOFF_MS));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#spool) {
      // Whatever is still in memory goes to the spool for the next run; a batch whose send has
      // not settled too (it may arrive twice: at-least-once).
      const head = this.#inflight && !this.#inflightOnDisk ? this.#inflight : [];
      this.#spool.append([...head, ...this.#queue.splice(0)]);
      await this.#spool.close();
    }
    await this.sink.close();
  }
}

export function createAuditWriter(opts: AuditWriterOptions): AuditWriter {
  return new Writer(opts);
}

interface Refused {
  count: number;
  first: number;
  last: number;
}

/** The facts no request carries: every field a request would fill is undefined. */
const NO_REQUEST = {
  user: undefined,
  idp: undefined,
  session: undefined,
  requestId: undefined,
  clientIp: undefined,
  userAgent: undefined,
} as const;

/** The summary of requests refused (503) while records could not be taken. */
function refusedFacts(r: Refused): AuditFacts {
  return {
    kind: 'auth',
    time: r.last,
    action: 'requests_refused',
    outcome: 'failure',
    reason: 'audit_unavailable',
    count: r.count,
    message: `${r.count} request(s) refused with 503 between ${new Date(r.first).toISOString()} and ${new Date(r.last).toISOString()}: the audit trail could not record them`,
    ...NO_REQUEST,
  };
}

/** The run's last record. */
function stoppedFacts(time: number, sequence: number): AuditFacts {
  return {
    kind: 'auth',
    time,
    action: 'audit_stopped',
    outcome: 'success',
    reason: 'shutdown',
    message: `audit trail closed after ${sequence} records`,
    ...NO_REQUEST,
  };
}

/** The writer's state: the sequence, the chain's last hash, the channels, the refusals not yet written. */
class Writer implements AuditWriter {
  readonly enabled: boolean;
  readonly #opts: AuditWriterOptions;
  readonly #now: () => number;
  readonly #bootId = randomUUID();
  readonly #pacer: DrainPacer;
  readonly #channels: Channel[];
  readonly #heads: ChainHeadKeeper | undefined;
  #sequence = 0;
  #prevHash: string;
  #refused: Refused | undefined;
  #stopped = false;
  #closing: Promise<void> | undefined;

  constructor(opts: AuditWriterOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#pacer = new DrainPacer(opts.drainRate ?? DEFAULT_DRAIN_RATE);
    this.#channels = opts.sinks.map((s) => new Channel(s, opts, this.#pacer));
    this.enabled = this.#channels.length > 0;
    // This run's first record links to where the previous run's chain ended (chain-head.ts).
    this.#heads = this.#channels.length > 0 ? new ChainHeadKeeper(opts.spoolDir, this.#bootId, opts.log) : undefined;
    this.#prevHash = this.#heads ? (loadChainHead(opts.spoolDir, opts.log)?.hash ?? '') : '';
  }

  write(facts: AuditFacts): void {
    // No sinks, no audit trail: skip the formatting and hashing entirely.
    if (this.#channels.length === 0) return;
    if (this.#refused) {
      const r = this.#refused;
      this.#refused = undefined;
      this.#append(refusedFacts(r));
    }
    this.#append(facts);
  }

  noteRefused(time: number): void {
    if (this.#refused) {
      this.#refused.count++;
      this.#refused.last = time;
    } else {
      this.#refused = { count: 1, first: time, last: time };
    }
  }

  canAccept(): boolean {
    return this.#channels.every((c) => c.canAccept());
  }

  backlog(): number {
    let most = 0;
    for (const c of this.#channels) most = Math.max(most, c.pending);
    return most;
  }

  ready(): { ok: boolean; checks: Record<string, string> } {
    const checks: Record<string, string> = {};
    for (const c of this.#channels) {
      const spoolError = c.spoolError;
      checks[`audit:${c.sink.name}`] = spoolError
        ? `spool failing: ${spoolError.message}`
        : c.healthy && c.sink.ready()
          ? 'ok'
          : `failing (${c.pending} waiting)`;
    }
    // In buffer mode a failing remote sink does not make us unready: records are safe on disk.
    const ok = this.#channels.every((c) => (this.#opts.onSinkFailure === 'buffer' ? c.canAccept() : c.healthy));
    return { ok, checks };
  }

  async flush(timeoutMs = 5000): Promise<boolean> {
    const deadline = this.#now() + timeoutMs;
    while (!this.#idle() && this.#now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.#idle();
  }

  /** Once: a second call (shutdown and a test's cleanup, say) waits for the first. */
  close(timeoutMs = 3000): Promise<void> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#stop();
    const deadline = this.#now() + timeoutMs;
    while (!this.#idle() && this.#now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.#channels.map((c) => c.close()));
    await this.#heads?.saveFinal();
    this.#pacer.close();
  }

  #append(facts: AuditFacts): void {
    this.#sequence++;
    const record = toRecord(
      facts,
      { sequence: this.#sequence, bootId: this.#bootId, keyed: this.#opts.chainKey !== undefined },
      this.#opts.format,
      this.#prevHash,
    );
    const { line, hash } = chainLine(record, this.#prevHash, true, this.#opts.chainKey);
    this.#prevHash = hash;
    this.#heads?.note(this.#sequence, hash);
    for (const c of this.#channels) c.push(line);
  }

  /** The run's last record: without it, audit-verify reports the tail cut (or the process killed). */
  #stop(): void {
    if (this.#stopped || this.#channels.length === 0) return;
    this.#stopped = true;
    this.#append(stoppedFacts(this.#now(), this.#sequence));
    this.#heads?.note(this.#sequence, this.#prevHash, true);
  }

  #idle(): boolean {
    return this.#channels.every((c) => c.pending === 0);
  }
}
