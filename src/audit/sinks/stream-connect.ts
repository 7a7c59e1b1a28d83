// One TCP or TLS connection to a log receiver (syslog over TCP/TLS, RELP), bounded in time.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface StreamTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** PEM CA bundle that must have signed the receiver's certificate (default: the system's). */
  readonly ca: Buffer | undefined;
  /** TLS client certificate and key (RFC 5425 mutual TLS), when the receiver asks for one. */
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly timeoutMs: number;
}

/** Resolves with a connected (and, for TLS, verified) socket; rejects on error or timeout. */
export function connectStream(t: StreamTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = t.tls
      ? // SNI only for names: RFC 6066 forbids an IP address as server name.
        tlsConnect({
          host: t.host,
          port: t.port,
          ...(isIP(t.host) ? {} : { servername: t.host }),
          ...(t.ca ? { ca: t.ca } : {}),
          ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
        })
      : netConnect({ host: t.host, port: t.port });
    const timer = setTimeout(() => s.destroy(new Error(`connect to ${t.host}:${t.port} timed out after ${t.timeoutMs} ms`)), t.timeoutMs);
    s.once(t.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      s.removeListener('error', onError);
      // Later errors end the connection; owners watch 'close' (and 'error' for the reason).
      s.on('error', () => s.destroy());
      resolve(s);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    s.once('error', onError);
  });
}
