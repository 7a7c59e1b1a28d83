// Audit records POSTed over HTTP(S) with undici: Splunk HTTP Event Collector ({"event": record}
// objects carrying the event's own `time`, `host`, `source` and a sourcetype per format;
// Authorization: Splunk <token>) or plain NDJSON (Authorization: Bearer <token>), gzip
// compressed, one POST per batch. Anything but a 2xx is a failure: the writer keeps the batch,
// spools and retries with backoff, so nothing is lost while the SIEM is down.
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import type { Secret } from '../../config/secret.ts';
import type { AuditSink } from '../sink.ts';
import { eventTimeMs, recordSchema } from './record-time.ts';

export interface HttpSinkOptions {
  readonly url: string;
  readonly format: 'hec' | 'ndjson';
  readonly token: Secret | undefined;
  readonly batchSize: number;
  readonly gzip: boolean;
  readonly timeoutMs: number;
  readonly caFile: string | undefined;
  /** HEC `host` (default: this machine's name). */
  readonly hostname?: string | undefined;
  /** HEC `index` (default: the token's default index). */
  readonly index?: string | undefined;
  /** HEC indexed `fields` added to every event. */
  readonly fields?: Readonly<Record<string, string>> | undefined;
}

/** HEC sourcetypes: one per record schema, so Splunk can extract each with its own rules. */
export const HEC_SOURCETYPES = { ecs: 'gatehouse:audit:ecs', ocsf: 'gatehouse:audit:ocsf', other: 'gatehouse:audit' } as const;

/**
 * One HEC event object. `time` is the event's time (epoch seconds with milliseconds): without it
 * Splunk stamps a record replayed after an outage with its arrival time.
 */
export function hecEvent(
  line: string,
  o: { readonly host: string; readonly index?: string | undefined; readonly fieldsJson?: string | undefined },
): string {
  const ms = eventTimeMs(line);
  const sourcetype = HEC_SOURCETYPES[recordSchema(line) ?? 'other'];
  const fields = o.fieldsJson === undefined ? '' : `"fields":${o.fieldsJson},`;
  const index = o.index === undefined ? '' : `,"index":${JSON.stringify(o.index)}`;
  const time = ms === undefined ? '' : `,"time":${(ms / 1000).toFixed(3)}`;
  return `{"event":${line},${fields}"host":${JSON.stringify(o.host)}${index},"source":"gatehouse","sourcetype":"${sourcetype}"${time}}`;
}

const gzipAsync = promisify(gzip);

/**
 * HEC says why it refused a batch (`{"text":"Invalid token","code":4}`): that goes into the error the
 * writer logs. Only those two fields, bounded; the body is never echoed.
 */
async function hecError(body: { text(): Promise<string> }): Promise<string> {
  try {
    const r = JSON.parse((await body.text()).slice(0, 4096)) as { text?: unknown; code?: unknown };
    const text = typeof r.text === 'string' ? r.text.replace(/[^ -~]/g, '').slice(0, 200) : undefined;
    return Number.isInteger(r.code) || text ? `: HEC code ${String(r.code ?? '-')} ${text ?? ''}`.trimEnd() : '';
  } catch {
    return '';
  }
}

export function createHttpSink(o: HttpSinkOptions): AuditSink {
  const u = new URL(o.url);
  const dispatcher = new Agent({
    connect: { timeout: o.timeoutMs, ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}) },
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
  });
  const auth = o.token === undefined ? undefined : o.format === 'hec' ? `Splunk ${o.token.value()}` : `Bearer ${o.token.value()}`;
  // Serialised once: the same on every event.
  const hec = {
    host: o.hostname ?? osHostname(),
    index: o.index,
    fieldsJson: o.fields && Object.keys(o.fields).length ? JSON.stringify(o.fields) : undefined,
  };
  let ok = true;

  const post = async (lines: readonly string[]) => {
    const text = o.format === 'hec' ? lines.map((l) => hecEvent(l, hec)).join('\n') : `${lines.join('\n')}\n`;
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
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump();
      return;
    }
    const err = new Error(`HTTP ${res.statusCode} from audit sink${await hecError(res.body)}`);
    // A 4xx other than 408 (timeout) and 429 (slow down) comes again on every retry (sink.ts).
    if (res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429)
      throw Object.assign(err, { permanent: true as const });
    throw err;
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
