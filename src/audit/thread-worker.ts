// The audit worker thread (thread.ts starts it): the process's real audit writer (writer.ts) with
// its sinks, spools and chain head, fed with the facts the main thread posts. Metrics and logs go
// back to the main thread, which owns the Prometheus registry and the logger; so does the stdout
// sink's output (a worker's own process.stdout is forwarded asynchronously, with no word on when
// the bytes reached the real stdout).
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import { createSink } from './create.ts';
import { setConfigHash } from './record-meaning.ts';
import type { AuditSink } from './sink.ts';
import { createStdoutSink } from './sinks/stdout.ts';
import {
  CONFIG_PREFIX,
  REFUSED_PREFIX,
  decodeFacts,
  fromWireSink,
  type FromWorker,
  type LogLevel,
  type MetricDeltas,
  type ToWorker,
  type WireInit,
  type WorkerState,
} from './thread-wire.ts';
import { createAuditWriter, type AuditMetrics, type AuditWriter } from './writer.ts';

// State changes the worker cannot see happen (a sink answers again) are reported this often.
const REPORT_MS = 250;

const port = parentPort!;
const init = workerData as WireInit;
const post = (m: FromWorker) => port.postMessage(m);

function logShim(): Logger {
  const at =
    (level: LogLevel) =>
    (a: unknown, b?: unknown): void => {
      if (typeof a === 'string') post({ t: 'log', level, obj: undefined, msg: a });
      else post({ t: 'log', level, obj: a as object, msg: typeof b === 'string' ? b : undefined });
    };
  const shim = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
  return { ...shim, child: () => shim } as unknown as Logger;
}

/** Counts kept here and posted as deltas: prom-client lives in the main thread. */
class MetricsShim implements AuditMetrics {
  #d = MetricsShim.#empty();
  #any = false;
  readonly written = { inc: (l: { sink: string }, v = 1) => this.#add('written', l.sink, v) };
  readonly spooled = { inc: (l: { sink: string }, v = 1) => this.#add('spooled', l.sink, v) };
  readonly retried = { inc: (l: { sink: string }, v = 1) => this.#add('retried', l.sink, v) };
  readonly failed = { inc: (l: { sink: string }, v = 1) => this.#add('failed', l.sink, v) };
  readonly queued = {
    set: (l: { sink: string }, v: number) => {
      this.#d.queued[l.sink] = v;
      this.#any = true;
    },
  };

  static #empty(): MetricDeltas {
    return { written: {}, spooled: {}, retried: {}, failed: {}, queued: {} };
  }

  #add(k: 'written' | 'spooled' | 'retried' | 'failed', sink: string, v: number): void {
    this.#d[k][sink] = (this.#d[k][sink] ?? 0) + v;
    this.#any = true;
  }

  take(): MetricDeltas | undefined {
    if (!this.#any) return undefined;
    const d = this.#d;
    this.#d = MetricsShim.#empty();
    this.#any = false;
    return d;
  }
}

/** A stream whose writes the main thread makes to its stdout; the callback waits for that write. */
class StdoutRelay extends Writable {
  #next = 0;
  readonly #waiting = new Map<number, (err?: Error | null) => void>();

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const id = ++this.#next;
    this.#waiting.set(id, cb);
    post({ t: 'out', id, text: typeof chunk === 'string' ? chunk : chunk.toString('utf8') });
  }

  done(id: number, err: string | undefined): void {
    const cb = this.#waiting.get(id);
    this.#waiting.delete(id);
    cb?.(err === undefined ? null : new Error(err));
  }
}

const metrics = new MetricsShim();
const stdout = new StdoutRelay({ decodeStrings: false });
let writer: AuditWriter;
try {
  const { audit } = init;
  const sinks: AuditSink[] = audit.sinks.map((c) => (c.type === 'stdout' ? createStdoutSink(stdout) : createSink(fromWireSink(c))));
  writer = createAuditWriter({
    sinks,
    format: audit.format,
    onSinkFailure: audit.onSinkFailure,
    spoolDir: audit.spoolDir,
    queueSize: audit.queueSize,
    drainRate: audit.spoolDrainRate,
    chainKey: init.chainKey === undefined ? undefined : Buffer.from(init.chainKey),
    log: logShim(),
    metrics,
  });
} catch (err) {
  // Bounded: the answer must fit the handshake buffer.
  const error = String((err as Error).message).slice(0, 4000);
  answerHandshake({ ok: false, error });
  post({ t: 'failed', error });
  process.exit(1);
}

function answerHandshake(answer: { ok: true; state: WorkerState } | { ok: false; error: string }): void {
  if (!init.handshake) return;
  const flag = new Int32Array(init.handshake, 0, 2);
  const bytes = new Uint8Array(init.handshake, 8);
  const { written } = new TextEncoder().encodeInto(JSON.stringify(answer), bytes);
  flag[1] = written;
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

/** Records given to the writer so far: with backlog(), the main thread's block-mode gate is exact. */
let received = 0;

function stateNow(): WorkerState {
  return { accept: writer.canAccept(), ready: writer.ready(), backlog: writer.backlog(), received };
}

let lastState = stateNow();
let lastText = JSON.stringify(lastState);

/** The state, when it differs from the last one the main thread was told. */
function changedState(): WorkerState | undefined {
  const s = stateNow();
  const text = JSON.stringify(s);
  if (text === lastText) return undefined;
  lastState = s;
  lastText = text;
  return s;
}

answerHandshake({ ok: true, state: lastState });
post({ t: 'started', state: lastState });

const timer = setInterval(() => {
  const state = changedState();
  const m = metrics.take();
  if (state || m) post({ t: 'state', state, metrics: m });
}, REPORT_MS);
timer.unref();

let closing = false;

function take(lines: string): void {
  let at = 0;
  while (at < lines.length) {
    let end = lines.indexOf('\n', at);
    if (end < 0) end = lines.length;
    const line = lines.slice(at, end);
    at = end + 1;
    try {
      if (line.startsWith(REFUSED_PREFIX)) writer.noteRefused(Number(line.slice(REFUSED_PREFIX.length)));
      else if (line.startsWith(CONFIG_PREFIX))
        setConfigHash(line.length > CONFIG_PREFIX.length ? line.slice(CONFIG_PREFIX.length) : undefined);
      else {
        received++;
        writer.write(decodeFacts(line));
      }
    } catch (err) {
      // In the main thread this would have thrown at the caller; here it must not stop the rest.
      post({ t: 'log', level: 'error', obj: { err: (err as Error).message }, msg: 'audit record could not be built; it is not written' });
    }
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'batch':
      if (closing) return;
      take(m.lines);
      post({ t: 'ack', id: m.id, state: changedState() });
      return;
    case 'flush':
      void writer.flush(m.timeoutMs).then((ok) => {
        changedState();
        post({ t: 'flushed', id: m.id, ok, state: lastState, metrics: metrics.take() });
      });
      return;
    case 'close':
      closing = true;
      clearInterval(timer);
      void writer
        .close(m.timeoutMs)
        .catch((err: unknown) =>
          post({ t: 'log', level: 'error', obj: { err: (err as Error).message }, msg: 'closing the audit trail failed' }),
        )
        .then(() => {
          post({ t: 'closed', metrics: metrics.take() });
          port.close();
        });
      return;
    case 'out-done':
      stdout.done(m.id, m.err);
      return;
    case 'crash':
      process.exit(70);
  }
});
