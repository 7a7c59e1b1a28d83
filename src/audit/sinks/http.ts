// Audit records POSTed over HTTP(S) with undici: Splunk HTTP Event Collector ({"event": record}
// objects carrying the event's own `time`, `host`, `source` and a sourcetype per format;
// Authorization: Splunk <token>) or plain NDJSON (Authorization: Bearer <token>), gzip
// compressed, one POST per batch. Anything but a 2xx is a failure: the writer keeps the batch,
// spools and retries with backoff, so nothing is lost while the SIEM is down.
//
// HEC indexer acknowledgment (`ack: true`; the token must have it enabled): every POST names this
// sink's channel (X-Splunk-Request-Channel, a GUID per process), HEC answers with an `ackId`, and
// the batch counts as delivered only once POST /services/collector/ack ({"acks":[ids]}) answers
// true for it. Not acknowledged within ACK_WAIT_FACTOR × timeout: the send fails and the writer
// sends the batch again (Splunk may then hold it twice; event.id is the key to deduplicate on).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { gzip } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
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
  /** HEC indexer acknowledgment: delivered only once HEC says the batch was indexed. */
  readonly ack?: boolean | undefined;
}

/** How long a send waits for its acknowledgments, in multiples of the sink's timeout. */
export const ACK_WAIT_FACTOR = 6;
/** Between two ack polls: starts here and doubles up to ACK_POLL_MAX_MS. */
const ACK_POLL_FIRST_MS = 50;
const ACK_POLL_MAX_MS = 1000;

/** The ack endpoint of a HEC URL: …/services/collector/ack beside …/services/collector[/event]. */
export function hecAckUrl(u: URL): URL {
  const at = u.pathname.indexOf('/services/collector');
  const base = at === -1 ? '' : u.pathname.slice(0, at);
  return new URL(`${base}/services/collector/ack`, u.origin);
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

/** The ackId of a HEC answer (`{"text":"Success","code":0,"ackId":7}`); none means the token has acknowledgment off. */
function ackIdOf(body: string): number {
  let id: unknown;
  try {
    id = (JSON.parse(body.slice(0, 4096)) as { ackId?: unknown }).ackId;
  } catch {
    id = undefined;
  }
  if (Number.isInteger(id) && (id as number) >= 0) return id as number;
  // Accepted but not trackable: sending again would index it twice. Configuration to fix (sink.ts).
  throw Object.assign(
    new Error('HEC accepted the batch but returned no ackId: enable indexer acknowledgment on the token, or set ack: false'),
    {
      permanent: true as const,
    },
  );
}

/** The ids an ack answer marks true (`{"acks":{"0":true,"1":false}}`). */
function ackedIds(body: string): number[] {
  try {
    const acks = (JSON.parse(body.slice(0, 1 << 20)) as { acks?: unknown }).acks;
    if (acks === null || typeof acks !== 'object') return [];
    return Object.entries(acks)
      .filter(([, v]) => v === true)
      .map(([k]) => Number(k));
  } catch {
    return [];
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
  const channel = o.ack && o.format === 'hec' ? randomUUID() : undefined;
  const ackUrl = channel === undefined ? undefined : hecAckUrl(u);

  /** POST one batch; with indexer acknowledgment, resolves with its ackId. */
  const post = async (lines: readonly string[]): Promise<number | undefined> => {
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
        ...(channel ? { 'x-splunk-request-channel': channel } : {}),
      },
    });
    if (res.statusCode >= 200 && res.statusCode < 300) {
      if (channel === undefined) {
        await res.body.dump();
        return undefined;
      }
      return ackIdOf(await res.body.text());
    }
    const err = new Error(`HTTP ${res.statusCode} from audit sink${await hecError(res.body)}`);
    // A 4xx other than 408 (timeout) and 429 (slow down) comes again on every retry (sink.ts).
    if (res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429)
      throw Object.assign(err, { permanent: true as const });
    throw err;
  };

  /** Poll the ack endpoint until every id is acknowledged; bounded by ACK_WAIT_FACTOR × timeout. */
  const acknowledged = async (ids: readonly number[]): Promise<void> => {
    const pending = new Set(ids);
    const deadline = Date.now() + o.timeoutMs * ACK_WAIT_FACTOR;
    let wait = ACK_POLL_FIRST_MS;
    for (;;) {
      const res = await request(ackUrl!, {
        method: 'POST',
        dispatcher,
        body: JSON.stringify({ acks: [...pending] }),
        headers: { 'content-type': 'application/json', 'x-splunk-request-channel': channel!, ...(auth ? { authorization: auth } : {}) },
      });
      if (res.statusCode < 200 || res.statusCode >= 300)
        throw new Error(`HTTP ${res.statusCode} from the HEC ack endpoint${await hecError(res.body)}`);
      for (const id of ackedIds(await res.body.text())) pending.delete(id);
      if (pending.size === 0) return;
      if (Date.now() + wait > deadline)
        throw new Error(`HEC did not acknowledge ${pending.size} batch(es) as indexed within ${(o.timeoutMs * ACK_WAIT_FACTOR) / 1000} s`);
      await sleep(wait);
      wait = Math.min(wait * 2, ACK_POLL_MAX_MS);
    }
  };

  return {
    // The URL names the sink in logs and metrics; it must not carry credentials (tokens go in `token`).
    name: `http:${u.origin}${u.pathname}`,
    remote: true,
    async send(lines) {
      try {
        const ids: number[] = [];
        for (let i = 0; i < lines.length; i += o.batchSize) {
          const id = await post(lines.slice(i, i + o.batchSize));
          if (id !== undefined) ids.push(id);
        }
        // Every batch posted first, then their acknowledgments awaited together.
        if (ids.length > 0) await acknowledged(ids);
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
