// Issue 14, delivery: syslog over TLS to a receiver that requires a client certificate (RFC 5425
// mutual TLS): with audit.sinks[].cert_file/key_file the records arrive; without them the receiver
// refuses the connection and the sink reports the failure (the writer keeps the records). Real
// TLS on loopback, certificates made with openssl.
import type { Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { createSink } from '../../src/audit/create.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';
import { selfSignedCert } from '../support/audit-receivers.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const withSinks = (sinks: unknown[]) => ({ ...baseConfig(), audit: { spool_dir: '/tmp/gatehouse-test-spool', sinks } });

describe('syslog over mutual TLS', () => {
  it('delivers with the client certificate; without it the receiver refuses and send() fails', async () => {
    const server = selfSignedCert();
    const client = selfSignedCert();
    onTestFinished(() => {
      rmSync(server.dir, { recursive: true, force: true });
      rmSync(client.dir, { recursive: true, force: true });
    });
    const received: string[] = [];
    // TLS 1.2: the refusal of a missing client certificate ends the handshake, so connecting fails
    // (under TLS 1.3 the client may finish first and learn of it on the next write; the replay
    // window then sends the records again).
    const tls = createServer(
      { key: server.key, cert: server.cert, requestCert: true, rejectUnauthorized: true, ca: client.cert, maxVersion: 'TLSv1.2' },
      (s: TLSSocket) => {
        s.setEncoding('utf8');
        s.on('data', (d: string) => received.push(d));
        s.on('error', () => {});
      },
    );
    tls.on('tlsClientError', () => {});
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const open = new Set<Socket>();
    tls.on('secureConnection', (s) => {
      open.add(s);
      s.once('close', () => open.delete(s));
    });
    onTestFinished(
      () =>
        new Promise<void>((r) => {
          for (const s of open) s.destroy();
          tls.close(() => r());
        }),
    );
    const url = `tls://127.0.0.1:${(tls.address() as AddressInfo).port}`;

    const withCert = compileConfig(
      withSinks([
        {
          type: 'syslog',
          url,
          ca_file: server.certFile,
          cert_file: client.certFile,
          key_file: client.keyFile,
          timeout: '3s',
          replay_window: '0s',
        },
      ]),
    );
    const sink = createSink(withCert.config.audit.sinks[0]!);
    onTestFinished(() => sink.close());
    await sink.send(['{"event":{"action":"http_request"},"x":1}']);
    await vi.waitFor(() => expect(received.join('')).toContain('"x":1'), { timeout: 5000 });

    const without = compileConfig(withSinks([{ type: 'syslog', url, ca_file: server.certFile, timeout: '3s', replay_window: '0s' }]));
    const bare = createSink(without.config.audit.sinks[0]!);
    onTestFinished(() => bare.close());
    await expect(bare.send(['{"event":{"action":"http_request"},"y":2}'])).rejects.toThrow();
    expect(received.join('')).not.toContain('"y":2');
  });

  it('config: cert_file and key_file go together, and only with TLS', () => {
    const problems = (sink: Record<string, unknown>) => {
      try {
        compileConfig(withSinks([{ type: 'syslog', ...sink }]));
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
      }
    };
    expect(problems({ url: 'tls://siem:6514', cert_file: '/c.pem', key_file: '/k.pem' })).toEqual([]);
    expect(problems({ url: 'tls://siem:6514', cert_file: '/c.pem' })).toEqual([
      'audit.sinks[0].key_file: cert_file and key_file go together',
    ]);
    expect(problems({ url: 'tcp://siem:514', cert_file: '/c.pem', key_file: '/k.pem' })).toEqual([
      'audit.sinks[0].cert_file: a client certificate needs TLS (tls:// or tls: true)',
    ]);
  });
});
