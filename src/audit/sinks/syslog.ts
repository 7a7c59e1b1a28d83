// RFC 5424 syslog to a SIEM: TCP with octet-counting framing (RFC 6587 §3.4.1), TLS (RFC 5425), or
// UDP (one datagram per record). The record is the MSG part, as JSON; JSON escaping means a CR or
// LF in a path or user agent can never end a frame or forge a record.
import { readFileSync } from 'node:fs';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { AuditSink } from '../sink.ts';

export interface SyslogSinkOptions {
  readonly transport: 'tcp' | 'udp';
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly caFile: string | undefined;
  readonly appName: string;
  readonly facility: number;
  readonly hostname?: string;
  readonly connectTimeoutMs?: number;
}

const SEVERITY_INFO = 6;

/** One RFC 5424 message: <PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG */
export function formatSyslog(line: string, o: Pick<SyslogSinkOptions, 'appName' | 'facility' | 'hostname'>, procId: string): string {
  let time = new Date().toISOString();
  try {
    const ts = (JSON.parse(line) as { '@timestamp'?: string; time?: number })['@timestamp'];
    if (typeof ts === 'string') time = ts;
  } catch {
    // keep now
  }
  const host = (o.hostname ?? osHostname()).replace(/[^!-~]/g, '').slice(0, 255) || '-';
  return `<${o.facility * 8 + SEVERITY_INFO}>1 ${time} ${host} ${o.appName} ${procId} audit - ${line}`;
}

export function createSyslogSink(o: SyslogSinkOptions): AuditSink {
  const name = `syslog:${o.tls ? 'tls' : o.transport}://${o.host}:${o.port}`;
  const procId = String(process.pid);
  const ca = o.caFile ? readFileSync(o.caFile) : undefined;
  let socket: Socket | undefined;
  let udp: UdpSocket | undefined;
  let ok = true;

  const connectTcp = (): Promise<Socket> => new Promise((resolve, reject) => {
    const s = o.tls
      // SNI only for names: RFC 6066 forbids an IP address as server name.
      ? tlsConnect({ host: o.host, port: o.port, ...(isIP(o.host) ? {} : { servername: o.host }), ...(ca ? { ca } : {}) })
      : netConnect({ host: o.host, port: o.port });
    const timer = setTimeout(() => s.destroy(new Error('connect timeout')), o.connectTimeoutMs ?? 5000);
    s.once(o.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      s.on('error', () => s.destroy());
      s.on('close', () => {
        if (socket === s) socket = undefined;
      });
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

  const sendTcp = async (lines: readonly string[]) => {
    socket ??= await connectTcp();
    const frames = lines.map((l) => {
      const msg = Buffer.from(formatSyslog(l, o, procId));
      return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
    });
    const s = socket;
    await new Promise<void>((resolve, reject) => {
      s.write(Buffer.concat(frames), (err) => (err ? reject(err) : resolve()));
    });
  };

  const sendUdp = async (lines: readonly string[]) => {
    if (!udp) {
      udp = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
      udp.on('error', () => {});
      udp.unref();
    }
    const u = udp;
    for (const l of lines) {
      await new Promise<void>((resolve, reject) => u.send(formatSyslog(l, o, procId), o.port, o.host, (err) => (err ? reject(err) : resolve())));
    }
  };

  return {
    name,
    remote: true,
    async send(lines) {
      try {
        await (o.transport === 'udp' ? sendUdp(lines) : sendTcp(lines));
        ok = true;
      } catch (err) {
        ok = false;
        socket?.destroy();
        socket = undefined;
        throw err;
      }
    },
    ready: () => ok,
    async close() {
      const s = socket;
      socket = undefined;
      if (s) await new Promise<void>((r) => s.end(() => r()));
      udp?.close();
    },
  };
}
