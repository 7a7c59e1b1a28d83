// Audit records POSTed over HTTP(S) with undici: Splunk HTTP Event Collector ({"event": record}
// objects, Authorization: Splunk <token>) or plain NDJSON (Authorization: Bearer <token>), gzip
// compressed, one POST per batch. Anything but a 2xx is a failure: the writer keeps the batch,
// spools and retries with backoff, so nothing is lost while the SIEM is down.
import { readFileSync } from 'node:fs';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import type { Secret } from '../../config/secret.ts';
import type { AuditSink } from '../sink.ts';

export interface HttpSinkOptions {
  readonly url: string;
  readonly format: 'hec' | 'ndjson';
  readonly token: Secret | undefined;
  readonly batchSize: number;
  readonly gzip: boolean;
  readonly timeoutMs: number;
  readonly caFile: string | undefined;
}

const gzipAsync = promisify(gzip);

export function createHttpSink(o: HttpSinkOptions): AuditSink {
  const u = new URL(o.url);
  const dispatcher = new Agent({
    connect: { timeout: o.timeoutMs, ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}) },
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
  });
  const auth = o.token === undefined ? undefined : o.format === 'hec' ? `Splunk ${o.token.value()}` : `Bearer ${o.token.value()}`;
  let ok = true;

  const post = async (lines: readonly string[]) => {
    const text = o.format === 'hec'
      ? lines.map((l) => `{"event":${l},"sourcetype":"gatehouse:audit"}`).join('\n')
      : `${lines.join('\n')}\n`;
    // Compressed on libuv's thread pool: a 500-record batch is not the event loop's business.
    const body = o.gzip ? await gzipAsync(text) : Buffer.from(text);
    const res = await request(u, {
      method: 'POST',
      dispatcher,
      body,
      headers: {
        'content-type': o.format === 'hec' ? 'application/json' : 'application/x-ndjson',
        ...(o.gzip ? { 'content-encoding': 'gzip' } : {}),
        ...(auth ? { authorization: auth } : {}),
      },
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode} from audit sink`);
  };

  return {
    // The URL names the sink in logs and metrics; it must not carry credentials (tokens go in `token`).
    name: `http:${u.origin}${u.pathname}`,
    remote: true,
    async send(lines) {
      try {
        for (let i = 0; i < lines.length; i += o.batchSize) await post(lines.slice(i, i + o.batchSize));
        ok = true;
      } catch (err) {
        ok = false;
        throw err;
      }
    },
    ready: () => ok,
    async close() {
      await dispatcher.close();
    },
  };
}
