// RFC 5424 syslog over RELP, the Reliable Event Logging Protocol of rsyslog's imrelp/omrelp
// (librelp doc/relp.html): every message is a command the receiver answers, so a record counts as
// delivered only when its "rsp 200" arrives. Frames: TXNR SP COMMAND SP DATALEN [SP DATA] LF.
// A session opens with "open" (offers: relp_version, relp_software, commands=syslog) and must get
// back relp_version and commands including syslog; then up to `window` "syslog" frames go out
// before the first is answered; responses come in order. A broken session fails the send() with
// `delivered` = records acknowledged so far: the writer keeps the rest and sends them again, in
// order, on the next session. What the receiver kept but could not acknowledge before it died
// comes again too (a rare duplicate, dropped by boot id + sequence): no record is lost.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import type { AuditSink, PartialDelivery } from '../sink.ts';
import { connectStream, type StreamTarget } from './stream-connect.ts';
import { clientCert } from './syslog.ts';
import { formatSyslog } from './syslog.ts';

export interface RelpSinkOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (rsyslog imrelp tls="on"). */
  readonly tls: boolean;
  readonly caFile: string | undefined;
  /** TLS client certificate and key files (mutual TLS). */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly appName: string;
  readonly facility: number;
  readonly hostname?: string;
  /** Connect, open, and each acknowledgement: at most this long. */
  readonly timeoutMs: number;
  /** Frames sent before the oldest is acknowledged (librelp's default is 128). */
  readonly window: number;
}

/** TXNR is 1..999,999,999 and wraps to 1 (0 is for server hints such as "serverclose"). */
const MAX_TXNR = 999_999_999;
/** Responses are short ("200 OK", the open offers): anything longer is not a RELP peer. */
const MAX_RSP_DATA = 64 * 1024;

export class RelpError extends Error implements PartialDelivery {
  readonly delivered: number;
  constructor(message: string, delivered: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RelpError';
    this.delivered = delivered;
  }
}

interface Frame {
  readonly txnr: number;
  readonly command: string;
  readonly data: Buffer;
}

/** Incremental RELP frame parser; throws on anything malformed (the session is then dropped). */
export class RelpParser {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      const f = this.#next();
      if (!f) return out;
      out.push(f);
    }
  }

  #next(): Frame | undefined {
    const b = this.#buf;
    // Header: at most 9 + 1 + 32 + 1 + 9 bytes before DATA.
    const head = b.subarray(0, 60).toString('latin1');
    const m = /^(\d{1,9}) ([A-Za-z]{1,32}) (\d{1,9})([ \n])/.exec(head);
    if (!m) {
      if (/^\d{0,9}( [A-Za-z]{0,32}( \d{0,9})?)?$/.test(head) && b.length < 60) return undefined; // incomplete
      throw new Error(`malformed RELP frame header ${JSON.stringify(head.slice(0, 40))}`);
    }
    const len = Number(m[3]);
    if (len > MAX_RSP_DATA) throw new Error(`RELP frame of ${len} bytes is too long`);
    const start = m[0].length - 1;
    if (len === 0) {
      if (m[4] !== '\n') throw new Error('RELP frame with DATALEN 0 must end right after it');
      this.#buf = b.subarray(start + 1);
      return { txnr: Number(m[1]), command: m[2]!, data: Buffer.alloc(0) };
    }
    if (m[4] !== ' ') throw new Error('RELP DATA must follow DATALEN after a space');
    const end = start + 1 + len;
    if (b.length < end + 1) return undefined;
    if (b[end] !== 0x0a) throw new Error('RELP frame does not end with LF (wrong DATALEN)');
    this.#buf = b.subarray(end + 1);
    return { txnr: Number(m[1]), command: m[2]!, data: b.subarray(start + 1, end) };
  }
}

export function relpFrame(txnr: number, command: string, data: Buffer | string): Buffer {
  const d = typeof data === 'string' ? Buffer.from(data) : data;
  return d.length === 0
    ? Buffer.from(`${txnr} ${command} 0\n`)
    : Buffer.concat([Buffer.from(`${txnr} ${command} ${d.length} `), d, Buffer.from('\n')]);
}

/** One RELP session: the open handshake, then in-order acknowledgements of what it sent. */
class Session {
  readonly #socket: Socket;
  readonly #parser = new RelpParser();
  #txnr = 0;
  /** TXNRs sent and not yet answered, oldest first. */
  readonly #unacked: number[] = [];
  #onAck: ((status: string) => void) | undefined;
  #failure: Error | undefined;
  #onFail: ((err: Error) => void) | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const f of this.#parser.push(chunk)) this.#frame(f);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('RELP connection closed by the receiver')));
  }

  get failed(): Error | undefined {
    return this.#failure;
  }

  get inFlight(): number {
    return this.#unacked.length;
  }

  /** Called for each response, in order, with its status line ("200 OK", "500 ..."). */
  onAck(fn: (status: string) => void): void {
    this.#onAck = fn;
  }

  onFail(fn: (err: Error) => void): void {
    this.#onFail = fn;
    if (this.#failure) fn(this.#failure);
  }

  send(command: string, data: Buffer | string): void {
    this.#txnr = this.#txnr >= MAX_TXNR ? 1 : this.#txnr + 1;
    this.#unacked.push(this.#txnr);
    this.#socket.write(relpFrame(this.#txnr, command, data));
  }

  #frame(f: Frame): void {
    if (f.txnr === 0) {
      // A hint. "serverclose": the receiver is going away; unanswered frames must be sent again.
      if (f.command === 'serverclose') this.fail(new Error('RELP receiver closed the session (serverclose)'));
      return;
    }
    if (f.command !== 'rsp') throw new Error(`unexpected RELP command "${f.command}" from the receiver`);
    // Responses come in the order of the commands.
    if (f.txnr !== this.#unacked[0]) throw new Error(`RELP response for txnr ${f.txnr}, expected ${this.#unacked[0] ?? 'none'}`);
    this.#unacked.shift();
    this.#onAck?.(f.data.toString('utf8'));
  }

  fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#socket.destroy();
    this.#onFail?.(err);
  }

  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) return resolve();
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }
}

const status = (rsp: string) => rsp.split('\n', 1)[0]!;
const isOk = (rsp: string) => /^200(\s|$)/.test(rsp);

/** Why the answer to "open" does not let us send syslog records, or undefined if it does. */
function openRefusal(rsp: string): string | undefined {
  const offers = new Map(
    rsp
      .split('\n')
      .slice(1)
      .map((l) => [l.split('=', 1)[0]!, l.slice(l.indexOf('=') + 1)] as const),
  );
  if (!isOk(rsp)) return `RELP receiver refused the session: ${status(rsp)}`;
  if (!offers.has('relp_version')) return 'RELP receiver offered no relp_version';
  if (!(offers.get('commands') ?? '').split(',').includes('syslog')) return 'RELP receiver does not accept the "syslog" command';
  return undefined;
}

export function createRelpSink(o: RelpSinkOptions): AuditSink {
  return new RelpSink(o);
}

/** A RELP sink's state: the current session, if any, and the one-at-a-time send queue. */
class RelpSink implements AuditSink {
  readonly name: string;
  readonly remote = true;
  readonly #o: RelpSinkOptions;
  readonly #procId = String(process.pid);
  readonly #fmt: { appName: string; facility: number; hostname: string };
  readonly #target: StreamTarget;
  #session: Session | undefined;
  #ok = true;
  // One send at a time: responses are matched to records by order.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: RelpSinkOptions) {
    this.#o = o;
    this.name = `syslog:${o.tls ? 'relp+tls' : 'relp'}://${o.host}:${o.port}`;
    this.#fmt = { appName: o.appName, facility: o.facility, hostname: o.hostname ?? osHostname() };
    this.#target = {
      host: o.host,
      port: o.port,
      tls: o.tls,
      ca: o.caFile ? readFileSync(o.caFile) : undefined,
      ...clientCert(o),
      timeoutMs: o.timeoutMs,
    };
  }

  send(lines: readonly string[]): Promise<void> {
    const run = this.#queue.then(() => this.#sendNow(lines));
    this.#queue = run.catch(() => {});
    return run;
  }

  ready(): boolean {
    return this.#ok;
  }

  async close(): Promise<void> {
    await this.#queue;
    const s = this.#session;
    this.#session = undefined;
    if (!s || s.failed) return;
    // "close" and its answer, briefly; the receiver ends the connection (or we do).
    try {
      await this.#withDeadline(
        'answer to "close"',
        (_p, sess) =>
          new Promise<void>((resolve) => {
            sess.onFail(() => resolve());
            sess.onAck(() => resolve());
            sess.send('close', '');
          }),
        s,
      );
    } finally {
      await s.end();
    }
  }

  /** Run `fn` with a deadline that restarts whenever `progress()` is called. */
  #withDeadline<T>(what: string, fn: (progress: () => void, s: Session) => Promise<T>, s: Session): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => s.fail(new Error(`no RELP ${what} within ${this.#o.timeoutMs} ms`)), this.#o.timeoutMs);
    };
    arm();
    return fn(arm, s).finally(() => clearTimeout(timer));
  }

  async #open(): Promise<Session> {
    const s = new Session(await connectStream(this.#target));
    await this.#withDeadline(
      'answer to "open"',
      (_progress, sess) =>
        new Promise<void>((resolve, reject) => {
          sess.onFail(reject);
          sess.onAck((rsp) => {
            const refusal = openRefusal(rsp);
            if (refusal !== undefined) return sess.fail(new Error(refusal));
            resolve();
          });
          sess.send('open', 'relp_version=0\nrelp_software=gatehouse\ncommands=syslog');
        }),
      s,
    );
    return s;
  }

  /** Send `lines` through `s`, `window` at a time; resolves when all are acknowledged. */
  #transmit(s: Session, lines: readonly string[], acked: { n: number }): Promise<void> {
    return this.#withDeadline(
      'acknowledgement',
      (progress, sess) =>
        new Promise<void>((resolve, reject) => {
          let next = 0;
          const fill = () => {
            while (next < lines.length && sess.inFlight < this.#o.window && !sess.failed) {
              sess.send('syslog', Buffer.from(formatSyslog(lines[next]!, this.#fmt, this.#procId)));
              next++;
            }
          };
          sess.onFail(reject);
          sess.onAck((rsp) => {
            // A refusal (500) ends the session: what it did not take is sent again on the next one.
            if (!isOk(rsp)) return sess.fail(new Error(`RELP receiver refused a record: ${status(rsp)}`));
            acked.n++;
            progress();
            if (acked.n === lines.length) resolve();
            else fill();
          });
          fill();
        }),
      s,
    );
  }

  async #sendNow(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const acked = { n: 0 };
    try {
      if (!this.#session || this.#session.failed) this.#session = await this.#open();
      await this.#transmit(this.#session, lines, acked);
      this.#ok = true;
    } catch (err) {
      this.#ok = false;
      this.#session?.fail(err as Error);
      this.#session = undefined;
      throw new RelpError(
        `RELP delivery to ${this.#o.host}:${this.#o.port} failed after ${acked.n} of ${lines.length} records: ${(err as Error).message}`,
        acked.n,
        err,
      );
    }
  }
}
