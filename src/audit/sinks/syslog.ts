// RFC 5424 syslog to a SIEM: TCP with octet-counting framing (RFC 6587 §3.4.1), TLS (RFC 5425), or
// UDP (one datagram per record). The record is the MSG part, as JSON; JSON escaping means a CR or
// LF in a path or user agent can never end a frame or forge a record. Delivery: UDP is at most
// once; TCP/TLS is at least once for connections that break within the replay window
// (replay-window.ts); RELP (relp.ts) is the acknowledged transport.
import { readFileSync } from 'node:fs';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import type { AuditSink } from '../sink.ts';
import { eventTimeRfc3339 } from './record-time.ts';
import { ReplayWindow } from './replay-window.ts';
import { connectStream, type StreamTarget } from './stream-connect.ts';

export interface SyslogSinkOptions {
  readonly transport: 'tcp' | 'udp';
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly caFile: string | undefined;
  /** TLS client certificate and key files (mutual TLS). */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly appName: string;
  readonly facility: number;
  readonly hostname?: string;
  readonly connectTimeoutMs?: number;
  /** TCP/TLS: after a connection breaks, re-send what was written this long before (0 = never). */
  readonly replayWindowMs?: number;
  /** TCP/TLS: at most this many records in the replay window. */
  readonly replayMaxRecords?: number;
  readonly now?: () => number;
}

const SEVERITY_INFO = 6;
/** Failures and denials: above info, so a SIEM's severity filter keeps them. */
const SEVERITY_NOTICE = 5;
// Read from the record's JSON text: a JSON string cannot hold these unescaped, and records keep one
// key of each name (ECS event.action / OCSF unmapped.action; event.sequence / metadata.sequence).
const ACTION = /"action":"([a-z_]{1,32})"/;
const FAILED = /"outcome":"failure"|"status_id":2[,}]/;
const SEQUENCE = /"sequence":(\d{1,10})[,}]/;
const MAX_SEQUENCE_ID = 2_147_483_647;

/** MSGID: the record's action (OCSF request records have none: http_request / websocket_session). */
function msgIdOf(line: string): string {
  const action = ACTION.exec(line)?.[1];
  if (action) return action;
  if (line.includes('"class_uid":4002')) return line.includes('"websocket":true') ? 'websocket_session' : 'http_request';
  return 'audit';
}

/**
 * One RFC 5424 message: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG. TIMESTAMP is the event's
 * time (either format), MSGID its action, severity notice for failures and denials, SD the
 * record's sequence as `[meta sequenceId="N"]` (RFC 5424 §7.3.1).
 */
export function formatSyslog(line: string, o: Pick<SyslogSinkOptions, 'appName' | 'facility' | 'hostname'>, procId: string): string {
  const time = eventTimeRfc3339(line) ?? new Date().toISOString();
  const host = (o.hostname ?? osHostname()).replace(/[^!-~]/g, '').slice(0, 255) || '-';
  const severity = FAILED.test(line) ? SEVERITY_NOTICE : SEVERITY_INFO;
  const sequence = Number(SEQUENCE.exec(line)?.[1] ?? 0);
  const sd = sequence >= 1 && sequence <= MAX_SEQUENCE_ID ? `[meta sequenceId="${sequence}"]` : '-';
  return `<${o.facility * 8 + severity}>1 ${time} ${host} ${o.appName} ${procId} ${msgIdOf(line)} ${sd} ${line}`;
}

export function createSyslogSink(o: SyslogSinkOptions): AuditSink {
  return new SyslogSink(o);
}

/** A syslog sink's state: the TCP/TLS connection (or UDP socket) and the replay it may owe. */
class SyslogSink implements AuditSink {
  readonly name: string;
  readonly remote = true;
  readonly #o: SyslogSinkOptions;
  readonly #procId = String(process.pid);
  readonly #fmt: { appName: string; facility: number; hostname: string };
  readonly #target: StreamTarget;
  readonly #now: () => number;
  readonly #replay: ReplayWindow;
  #socket: Socket | undefined;
  #udp: UdpSocket | undefined;
  #ok = true;
  #closing = false;
  /** When the last connection broke (a replay is owed), or undefined. */
  #brokenAt: number | undefined;

  constructor(o: SyslogSinkOptions) {
    this.#o = o;
    this.name = `syslog:${o.tls ? 'tls' : o.transport}://${o.host}:${o.port}`;
    this.#fmt = { appName: o.appName, facility: o.facility, hostname: o.hostname ?? osHostname() };
    this.#target = {
      host: o.host,
      port: o.port,
      tls: o.tls,
      ca: o.caFile ? readFileSync(o.caFile) : undefined,
      ...clientCert(o),
      timeoutMs: o.connectTimeoutMs ?? 5000,
    };
    this.#now = o.now ?? Date.now;
    this.#replay = new ReplayWindow(o.replayWindowMs ?? 10_000, o.replayMaxRecords ?? 10_000);
  }

  async send(lines: readonly string[]): Promise<void> {
    try {
      await (this.#o.transport === 'udp' ? this.#sendUdp(lines) : this.#sendTcp(lines));
      this.#ok = true;
    } catch (err) {
      this.#ok = false;
      if (this.#o.transport !== 'udp') this.#brokenAt ??= this.#now();
      this.#socket?.destroy();
      this.#socket = undefined;
      throw err;
    }
  }

  ready(): boolean {
    return this.#ok;
  }

  async close(): Promise<void> {
    this.#closing = true;
    const s = this.#socket;
    this.#socket = undefined;
    if (s) await new Promise<void>((r) => s.end(() => r()));
    this.#udp?.close();
  }

  async #connectTcp(): Promise<Socket> {
    const s = await connectStream(this.#target);
    s.on('close', () => {
      if (this.#socket !== s) return;
      this.#socket = undefined;
      if (!this.#closing) this.#brokenAt ??= this.#now();
    });
    return s;
  }

  async #sendTcp(lines: readonly string[]): Promise<void> {
    let again: Buffer[] = [];
    if (!this.#socket) {
      this.#socket = await this.#connectTcp();
      // What the broken connection may have lost goes first, in its original order.
      if (this.#brokenAt !== undefined) again = this.#replay.replay(this.#brokenAt, this.#now());
    }
    const frames = lines.map((l) => {
      const msg = Buffer.from(formatSyslog(l, this.#fmt, this.#procId));
      return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
    });
    const s = this.#socket;
    await new Promise<void>((resolve, reject) => {
      s.write(Buffer.concat([...again, ...frames]), (err) => (err ? reject(err) : resolve()));
    });
    this.#brokenAt = undefined;
    this.#replay.written(frames, this.#now());
  }

  async #sendUdp(lines: readonly string[]): Promise<void> {
    if (!this.#udp) {
      this.#udp = createSocket(this.#o.host.includes(':') ? 'udp6' : 'udp4');
      this.#udp.on('error', () => {});
      this.#udp.unref();
    }
    const u = this.#udp;
    for (const l of lines) {
      await new Promise<void>((resolve, reject) =>
        u.send(formatSyslog(l, this.#fmt, this.#procId), this.#o.port, this.#o.host, (err) => (err ? reject(err) : resolve())),
      );
    }
  }
}

/** The TLS client certificate and key, read once at start (sink creation). */
export function clientCert(o: { readonly certFile?: string | undefined; readonly keyFile?: string | undefined }): {
  cert?: Buffer;
  key?: Buffer;
} {
  return o.certFile && o.keyFile ? { cert: readFileSync(o.certFile), key: readFileSync(o.keyFile) } : {};
}
