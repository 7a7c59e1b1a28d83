// A strict RELP receiver on 127.0.0.1 (librelp doc/relp.html), written independently of the sink:
// it checks the open offers, that TXNRs start at 1 and rise by one, and that every frame is
// well-formed; answers each "syslog" with "rsp 200 OK" (or as a test asks: late, refused, or never
// because it "crashes"); answers "close" the way librelp does (rsp, then a serverclose hint).
// Plain TCP or TLS. Closed when the test finishes.
import type { Server, Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { listenStream, parseRfc5424 } from './audit-receivers.ts';

export interface RelpReceiver {
  readonly port: number;
  /** MSG parts of the syslog frames it kept, in arrival order. */
  readonly lines: string[];
  /** Protocol problems; tests expect none. */
  readonly problems: string[];
  /** Every open offer received (one per session). */
  readonly opens: string[];
  /** Largest number of syslog frames received and not yet answered on one session. */
  maxUnanswered: number;
  /** Answer each syslog frame this much later (0 = at once). */
  ackDelayMs: number;
  /** Answer the next syslog frame(s) with "500 ..." instead. */
  refuseNext: number;
  /**
   * Crash after this many more syslog frames: cut every connection without answering them.
   * `keepUnanswered` says whether those frames count as kept (written before the crash).
   */
  crashAfter: { frames: number; keepUnanswered: boolean } | undefined;
  /** The open response's offers (default: relp_version=0, commands=syslog). */
  offers: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  frames(): number;
}

export async function startRelpReceiver(o: { tls?: { key: Buffer; cert: Buffer } } = {}): Promise<RelpReceiver> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let frames = 0;
  const rx: RelpReceiver = {
    get port() {
      return port;
    },
    lines: [],
    problems: [],
    opens: [],
    maxUnanswered: 0,
    ackDelayMs: 0,
    refuseNext: 0,
    crashAfter: undefined,
    offers: 'relp_version=0\nrelp_software=gatehouse-test-receiver\ncommands=syslog',
    start,
    stop,
    frames: () => frames,
  };

  function onSocket(s: Socket): void {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf = Buffer.alloc(0);
    let expectTxnr = 1;
    let opened = false;
    let unanswered = 0;
    const answer = (txnr: number, data: string, delay: number) => {
      const send = () => {
        unanswered = Math.max(0, unanswered - 1);
        if (!s.destroyed) s.write(`${txnr} rsp ${Buffer.byteLength(data)}${data ? ` ${data}` : ''}\n`);
      };
      if (delay > 0) setTimeout(send, delay);
      else send();
    };
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const head = /^(\d{1,9}) ([a-z]{1,32}) (\d{1,9})([ \n])/.exec(buf.subarray(0, 64).toString('latin1'));
        if (!head) {
          if (buf.length >= 64) {
            rx.problems.push(`bad frame header ${JSON.stringify(buf.subarray(0, 40).toString())}`);
            s.destroy();
          }
          return;
        }
        const [all, txnrText, command, lenText, sep] = head as unknown as [string, string, string, string, string];
        const len = Number(lenText);
        const dataStart = all.length;
        if (len === 0 && sep !== '\n') rx.problems.push('DATALEN 0 not followed by LF');
        if (len > 0 && sep !== ' ') rx.problems.push('DATA not after a space');
        const end = len === 0 ? dataStart - 1 : dataStart + len;
        if (buf.length < end + 1) return;
        if (buf[end] !== 0x0a) {
          rx.problems.push(`frame ${txnrText} does not end with LF`);
          s.destroy();
          return;
        }
        const data = len === 0 ? '' : buf.subarray(dataStart, end).toString('utf8');
        buf = buf.subarray(end + 1);
        const txnr = Number(txnrText);
        if (txnr !== expectTxnr) rx.problems.push(`txnr ${txnr}, expected ${expectTxnr}`);
        expectTxnr = txnr + 1;
        if (!opened) {
          if (command !== 'open') rx.problems.push(`first command is ${command}, not open`);
          rx.opens.push(data);
          if (!/(^|\n)relp_version=\d/.test(data)) rx.problems.push('open without relp_version');
          if (!/(^|\n)commands=([^\n]*,)?syslog(,|\n|$)/.test(data)) rx.problems.push('open without commands=syslog');
          opened = true;
          answer(txnr, `200 OK\n${rx.offers}`, 0);
          continue;
        }
        if (command === 'close') {
          answer(txnr, '', 0);
          s.end('0 serverclose 0\n');
          return;
        }
        if (command !== 'syslog') {
          rx.problems.push(`unexpected command ${command}`);
          continue;
        }
        frames++;
        const crash = rx.crashAfter;
        if (crash && crash.frames <= 0) {
          if (crash.keepUnanswered) keep(data);
          continue; // received, never answered: the crash below cuts the connection
        }
        unanswered++;
        rx.maxUnanswered = Math.max(rx.maxUnanswered, unanswered);
        if (rx.refuseNext > 0) {
          rx.refuseNext--;
          answer(txnr, '500 refused by test', 0);
          continue;
        }
        keep(data);
        answer(txnr, '200 OK', rx.ackDelayMs);
        if (crash) crash.frames--;
      }
    });
    // Checked after each chunk: once the crash budget is spent, cut everything (a SIGKILL).
    s.on('data', () => {
      if (rx.crashAfter && rx.crashAfter.frames <= 0) {
        rx.crashAfter = undefined;
        for (const c of sockets) c.destroy();
      }
    });
  }

  function keep(data: string): void {
    const m = parseRfc5424(data);
    if (typeof m === 'string') rx.problems.push(m);
    else rx.lines.push(m.msg);
  }

  async function start(): Promise<void> {
    if (server) return;
    ({ server, port } = await listenStream(o.tls, onSocket, port));
  }

  async function stop(): Promise<void> {
    const s = server;
    if (!s) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const c of sockets) c.destroy();
    await closed;
  }

  await start();
  onTestFinished(stop);
  return rx;
}
