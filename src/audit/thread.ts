// The audit writer of the main thread when audit.worker_thread is on (docs/audit.md): building,
// hashing and delivering records (writer.ts, a fifth to a quarter of a proxied request's CPU) runs in
// a worker thread (thread-worker.ts). The main thread turns each record's facts into a JSON line
// and posts its lines as one string at most every 10 ms (an idle writer at the end of the turn);
// it keeps every posted batch until the worker says its writer took it (queued or spooled), and
// sends the unacknowledged batches again, in order, to a new worker if the worker dies. canAccept()
// and ready() answer synchronously from the state the worker reports whenever it changes; metrics
// and logs are forwarded here.
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { AuditConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { AuditFacts } from './facts.ts';
import { configFields } from './record-meaning.ts';
import {
  CONFIG_PREFIX,
  REFUSED_PREFIX,
  encodeFacts,
  toWireSinks,
  type FromWorker,
  type MetricDeltas,
  type ToWorker,
  type WireInit,
  type WorkerState,
} from './thread-wire.ts';
import type { AuditMetrics, AuditWriter } from './writer.ts';

const WORKER_URL = new URL('./thread-worker.ts', import.meta.url);
/** Lines posted at once at most: a burst does not wait for the end of the event-loop turn. */
const BATCH_LINES = 500;
/**
 * A batch leaves at most this often, unless a full one waits; an idle writer posts at the end of
 * the turn. Each post wakes the worker thread: posted every event-loop turn under load (~3 records
 * a post, ~1,000 wakes a second) the main thread spent 28-40 µs of wall time per record posting,
 * at 10 ms 12-17 µs (docs/performance.md, fourth pass).
 */
const POST_INTERVAL_MS = 10;
/** The first start: how long the main thread waits for the worker to open its sinks. */
const START_TIMEOUT_MS = 30_000;
/** Restarts in a row (no batch acknowledged between them) before the trail is declared failed. */
const MAX_RESTARTS = 8;
const MAX_RESTART_DELAY_MS = 5_000;
/** The worker closes within the writer's close timeout; this covers its sinks' close and the hop back. */
const CLOSE_MARGIN_MS = 2_000;
/**
 * Buffer mode: records the worker has not acknowledged, at most, in queue_size units (block mode
 * holds to queue_size itself). Only a stuck or restarting worker gets there; requests are refused.
 */
const BUFFER_MODE_BACKLOG = 10;

export interface ThreadedWriterOptions {
  readonly audit: AuditConfig;
  readonly chainKey: Buffer | undefined;
  readonly log: Logger;
  readonly metrics?: AuditMetrics | undefined;
  /** Where the stdout sink's records go (default process.stdout). */
  readonly stdout?: NodeJS.WritableStream | undefined;
}

interface Batch {
  readonly id: number;
  readonly lines: string;
  readonly count: number;
}

/** Starts the worker and waits until it has opened its sinks: a sink that cannot open fails here, as in-thread. */
export function createThreadedAuditWriter(o: ThreadedWriterOptions): ThreadedAuditWriter {
  return new ThreadedAuditWriter(o);
}

export class ThreadedAuditWriter implements AuditWriter {
  readonly enabled: boolean;
  readonly #o: ThreadedWriterOptions;
  readonly #init: Omit<WireInit, 'handshake'>;
  readonly #stdout: NodeJS.WritableStream;
  readonly #backlog: number;
  #worker: Worker | undefined;
  #lines: string[] = [];
  /** Records among #lines (the rest set the config hash). */
  #lineRecords = 0;
  /** The config hash (record-meaning.ts) the last line was written under. */
  #config: { readonly hash: string } | undefined;
  #turnScheduled = false;
  #postTimer: NodeJS.Timeout | undefined;
  /** When the last batch was posted (performance.now(): a clock set back cannot hold batches). */
  #lastPost = Number.NEGATIVE_INFINITY;
  #batchesPosted = 0;
  /** Posted and not yet acknowledged, oldest first. */
  readonly #sent: Batch[] = [];
  #sentCount = 0;
  #nextId = 0;
  #state: WorkerState;
  #restarts = 0;
  /** Records written here, and how many of them the current worker was not given (they were acknowledged by an earlier one). */
  #written = 0;
  #writtenAtStart = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Set when restarts ran out: the trail takes no more records. */
  #failed: string | undefined;
  #closing: Promise<void> | undefined;
  readonly #answers = new Map<number, (ok: boolean) => void>();
  #onClosed: ((closed: boolean) => void) | undefined;

  constructor(o: ThreadedWriterOptions) {
    this.#o = o;
    this.enabled = o.audit.sinks.length > 0;
    this.#stdout = o.stdout ?? process.stdout;
    this.#backlog = o.audit.onSinkFailure === 'block' ? o.audit.queueSize : o.audit.queueSize * BUFFER_MODE_BACKLOG;
    this.#init = {
      audit: { ...o.audit, sinks: toWireSinks(o.audit.sinks) },
      chainKey: o.chainKey === undefined ? undefined : new Uint8Array(o.chainKey),
    };
    this.#state = this.#start(true);
  }

  write(facts: AuditFacts): void {
    if (this.#closing) return;
    this.#written++;
    this.#push(encodeFacts(facts));
  }

  noteRefused(time: number): void {
    if (this.#closing) return;
    this.#push(`${REFUSED_PREFIX}${time}`);
  }

  canAccept(): boolean {
    if (this.#failed !== undefined || !this.#state.accept) return false;
    if (this.#o.audit.onSinkFailure !== 'block') return this.#sentCount + this.#lineRecords < this.#backlog;
    // Block mode, as in-thread: no more than queue_size records wait for the slowest sink. The
    // worker's last word on its backlog, plus every record written since it counted, is never less
    // than the backlog now (records only leave it by being delivered).
    return this.#state.backlog + (this.#written - this.#writtenAtStart - this.#state.received) < this.#backlog;
  }

  backlog(): number {
    return this.#state.backlog + Math.max(0, this.#written - this.#writtenAtStart - this.#state.received);
  }

  ready(): { ok: boolean; checks: Record<string, string> } {
    const checks = { ...this.#state.ready.checks };
    if (this.#failed !== undefined) checks['audit:worker'] = `failed: ${this.#failed}`;
    else if (this.#worker === undefined) checks['audit:worker'] = `restarting (${this.#sentCount} records waiting)`;
    return { ok: this.#state.ready.ok && this.#failed === undefined, checks };
  }

  async flush(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.#post();
      const w = this.#worker;
      const left = deadline - Date.now();
      if (this.#failed !== undefined || left <= 0) return false;
      if (!w) {
        // Between a worker's death and its successor: the batches wait here and go to the next one.
        await new Promise((r) => setTimeout(r, Math.min(20, left)));
        continue;
      }
      const id = ++this.#nextId;
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => this.#answer(id, false), left + CLOSE_MARGIN_MS);
        this.#answers.set(id, (v) => {
          clearTimeout(timer);
          resolve(v);
        });
        w.postMessage({ t: 'flush', id, timeoutMs: left } satisfies ToWorker);
      });
      // A worker that died meanwhile left its batches to the next one: wait for that one.
      if (this.#worker === w) return ok;
    }
  }

  close(timeoutMs = 3000): Promise<void> {
    this.#closing ??= this.#close(timeoutMs);
    return this.#closing;
  }

  /** Tests only: the worker dies — 'exit': before it reads anything posted after this call; 'terminate': wherever it is. */
  simulateCrash(how: 'exit' | 'terminate'): void {
    this.#post();
    if (how === 'exit') this.#worker?.postMessage({ t: 'crash' } satisfies ToWorker);
    else void this.#worker?.terminate();
  }

  async #close(timeoutMs: number): Promise<void> {
    clearTimeout(this.#postTimer);
    this.#postTimer = undefined;
    this.#post();
    if (!this.#worker && this.#failed === undefined) {
      clearTimeout(this.#restartTimer);
      this.#start(false);
    }
    const w = this.#worker;
    if (!w) {
      this.#o.log.error(
        { unacknowledged: this.#sentCount },
        'audit trail closed without a worker: records not acknowledged are not written',
      );
      return;
    }
    // The worker's answer must arrive even when nothing else keeps the process alive.
    w.ref();
    let timer: NodeJS.Timeout | undefined;
    const closed = await new Promise<boolean>((resolve) => {
      this.#onClosed = resolve;
      timer = setTimeout(() => resolve(false), timeoutMs + CLOSE_MARGIN_MS);
      w.postMessage({ t: 'close', timeoutMs } satisfies ToWorker);
    });
    clearTimeout(timer);
    this.#onClosed = undefined;
    if (!closed)
      this.#o.log.error(
        { unacknowledged: this.#sentCount },
        'audit worker did not close in time; records it had not delivered are lost (buffer mode: still spooled)',
      );
    this.#worker = undefined;
    await w.terminate();
  }

  #push(line: string): void {
    const config = configFields();
    if (this.#lines.length === 0 || config !== this.#config) {
      this.#config = config;
      this.#lines.push(`${CONFIG_PREFIX}${config?.hash ?? ''}`);
    }
    this.#lines.push(line);
    this.#lineRecords++;
    if (this.#lineRecords >= BATCH_LINES) this.#post();
    else this.#postSoon();
  }

  /** Post at the end of this turn, or, when a batch left less than POST_INTERVAL_MS ago, once it is that old. */
  #postSoon(): void {
    if (this.#turnScheduled || this.#postTimer) return;
    const wait = this.#lastPost + POST_INTERVAL_MS - performance.now();
    if (wait > 0) {
      this.#postTimer = setTimeout(() => {
        this.#postTimer = undefined;
        this.#post();
      }, wait);
      return;
    }
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#post();
    });
  }

  /** Batches posted to workers so far (diagnostics; the tests count wakes with it). */
  get batchesPosted(): number {
    return this.#batchesPosted;
  }

  /** The lines so far become one batch, posted to the worker (or kept for the next one). */
  #post(): void {
    if (this.#lines.length === 0) return;
    const batch = { id: ++this.#nextId, lines: this.#lines.join('\n'), count: this.#lineRecords };
    this.#lines = [];
    this.#lineRecords = 0;
    this.#sent.push(batch);
    this.#sentCount += batch.count;
    this.#lastPost = performance.now();
    this.#batchesPosted++;
    this.#worker?.postMessage({ t: 'batch', id: batch.id, lines: batch.lines } satisfies ToWorker);
  }

  /** A worker, and the unacknowledged batches sent to it again. The first start waits for its answer. */
  #start(first: boolean): WorkerState {
    const handshake = first ? new SharedArrayBuffer(8 + 64 * 1024) : undefined;
    const w = new Worker(WORKER_URL, { name: 'gatehouse-audit', workerData: { ...this.#init, handshake } satisfies WireInit });
    w.on('message', (m: FromWorker) => this.#onMessage(w, m));
    w.on('error', (err) => this.#o.log.error({ err: err.message }, 'audit worker failed'));
    w.on('exit', (code) => this.#onExit(w, code));
    // A server's listeners keep the process alive; the audit thread alone must not.
    w.unref();
    this.#worker = w;
    // The new worker is given the unacknowledged batches and every record after them; until it
    // reports, it is taken to hold nothing else.
    this.#writtenAtStart = this.#written - this.#sentCount - this.#lineRecords;
    if (!first) this.#state = { ...this.#state, backlog: 0, received: 0 };
    for (const b of this.#sent) w.postMessage({ t: 'batch', id: b.id, lines: b.lines } satisfies ToWorker);
    if (!handshake) return this.#state;
    const flag = new Int32Array(handshake, 0, 2);
    if (Atomics.wait(flag, 0, 0, START_TIMEOUT_MS) === 'timed-out') {
      this.#failed = 'did not start';
      void w.terminate();
      throw new Error(`the audit worker thread did not start within ${START_TIMEOUT_MS / 1000} s`);
    }
    const answer = JSON.parse(new TextDecoder().decode(new Uint8Array(handshake, 8, flag[1]))) as
      | { ok: true; state: WorkerState }
      | { ok: false; error: string };
    if (!answer.ok) {
      this.#failed = answer.error;
      this.#worker = undefined;
      throw new Error(answer.error);
    }
    return answer.state;
  }

  #onMessage(w: Worker, m: FromWorker): void {
    if (m.t === 'log') {
      const log = this.#o.log;
      if (m.obj === undefined) log[m.level](m.msg ?? '');
      else log[m.level](m.obj, m.msg);
      return;
    }
    if (m.t === 'out') {
      this.#stdout.write(m.text, (err?: Error | null) =>
        w.postMessage({ t: 'out-done', id: m.id, err: err ? err.message : undefined } satisfies ToWorker),
      );
      return;
    }
    if (w !== this.#worker) return;
    switch (m.t) {
      case 'started':
        this.#state = m.state;
        return;
      case 'failed':
        this.#o.log.error({ err: m.error }, 'audit worker could not open its sinks');
        return;
      case 'ack':
        while (this.#sent.length > 0 && this.#sent[0]!.id <= m.id) this.#sentCount -= this.#sent.shift()!.count;
        this.#restarts = 0;
        if (m.state) this.#state = m.state;
        return;
      case 'state':
        if (m.state) this.#state = m.state;
        this.#apply(m.metrics);
        return;
      case 'flushed':
        this.#state = m.state;
        this.#apply(m.metrics);
        this.#answer(m.id, m.ok);
        return;
      case 'closed':
        this.#apply(m.metrics);
        this.#onClosed?.(true);
        return;
    }
  }

  #answer(id: number, ok: boolean): void {
    const a = this.#answers.get(id);
    this.#answers.delete(id);
    a?.(ok);
  }

  #apply(d: MetricDeltas | undefined): void {
    const m = this.#o.metrics;
    if (!d || !m) return;
    for (const [sink, v] of Object.entries(d.written)) m.written.inc({ sink }, v);
    for (const [sink, v] of Object.entries(d.spooled)) m.spooled.inc({ sink }, v);
    for (const [sink, v] of Object.entries(d.retried)) m.retried.inc({ sink }, v);
    for (const [sink, v] of Object.entries(d.failed)) m.failed.inc({ sink }, v);
    for (const [sink, v] of Object.entries(d.queued)) m.queued.set({ sink }, v);
  }

  #onExit(w: Worker, code: number): void {
    if (w !== this.#worker) return;
    this.#worker = undefined;
    for (const id of [...this.#answers.keys()]) this.#answer(id, false);
    if (this.#closing) {
      this.#onClosed?.(false);
      return;
    }
    if (this.#failed !== undefined) return;
    if (this.#restarts >= MAX_RESTARTS) {
      this.#failed = `stopped ${this.#restarts + 1} times in a row (exit code ${code})`;
      this.#o.log.error(
        { unacknowledged: this.#sentCount },
        'audit worker keeps stopping; the audit trail takes no more records and requests are refused',
      );
      return;
    }
    const delay = Math.min(100 * 2 ** this.#restarts, MAX_RESTART_DELAY_MS);
    this.#restarts++;
    this.#o.log.error(
      { exit_code: code, unacknowledged: this.#sentCount, restart_in_ms: delay },
      'audit worker stopped unexpectedly; a new one gets the records it had not acknowledged',
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (!this.#closing) this.#start(false);
    }, delay);
    this.#restartTimer.unref();
  }
}
