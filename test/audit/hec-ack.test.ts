// Issue 14, HEC indexer acknowledgment (audit.sinks[].ack: true). A real HTTP server speaks the
// protocol as Splunk documents it ("About HTTP Event Collector Indexer Acknowledgment", Splunk
// Enterprise Getting Data In): with acknowledgment on for the token, a POST without a channel
// (X-Splunk-Request-Channel) is refused (400, code 10 "Data channel is missing"); an accepted one
// is answered {"text":"Success","code":0,"ackId":N}, N counting per channel from 0; POST
// /services/collector/ack with {"acks":[N,...]} answers {"acks":{"N":true|false}}, and an id
// reported true is released (asked again, it is false). The sink must count a batch as delivered
// only once its id was reported true.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSink } from '../../src/audit/create.ts';
import { isPermanentFailure } from '../../src/audit/sink.ts';
import { hecAckUrl } from '../../src/audit/sinks/http.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const TOKEN = 'b2c1f0e4-7d3a-4e59-9a61-3f8e2d7c5b14';
const withSinks = (sinks: unknown[]) => ({ ...baseConfig(), audit: { spool_dir: '/tmp/gatehouse-test-spool', sinks } });

/** A HEC endpoint with indexer acknowledgment; `indexed(id)` marks a batch indexed. */
async function startHec(opts: { ackEnabled: boolean }) {
  const channels = new Map<string, { next: number; pending: Set<number>; indexed: Set<number> }>();
  const events: { channel: string | undefined; body: string }[] = [];
  const ackQueries: number[][] = [];
  let onAckQuery: (() => void) | undefined;
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', (): void => {
      if (req.headers.authorization !== `Splunk ${TOKEN}`) return reply(res, 401, { text: 'Token is required', code: 2 });
      const channel = req.headers['x-splunk-request-channel'] as string | undefined;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/services/collector/event') {
        events.push({ channel, body });
        if (!opts.ackEnabled) return reply(res, 200, { text: 'Success', code: 0 });
        if (!channel) return reply(res, 400, { text: 'Data channel is missing', code: 10 });
        const c = channels.get(channel) ?? { next: 0, pending: new Set<number>(), indexed: new Set<number>() };
        channels.set(channel, c);
        const id = c.next++;
        c.pending.add(id);
        return reply(res, 200, { text: 'Success', code: 0, ackId: id });
      }
      if (path === '/services/collector/ack') {
        if (!opts.ackEnabled) return reply(res, 400, { text: 'ACK is disabled', code: 14 });
        const c = channel ? channels.get(channel) : undefined;
        if (!channel || !c) return reply(res, 400, { text: 'Data channel is missing', code: 10 });
        const asked = (JSON.parse(body) as { acks: number[] }).acks;
        ackQueries.push(asked);
        const acks: Record<string, boolean> = {};
        for (const id of asked) {
          acks[id] = c.indexed.has(id);
          // Reported true once, then released.
          if (acks[id]) c.indexed.delete(id);
        }
        reply(res, 200, { acks });
        onAckQuery?.();
        return;
      }
      reply(res, 404, { text: 'Not found', code: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/collector/event`,
    events,
    ackQueries,
    /** Mark every batch received so far as indexed. */
    indexAll() {
      for (const c of channels.values()) {
        for (const id of c.pending) c.indexed.add(id);
        c.pending.clear();
      }
    },
    /** Resolves after `n` more ack queries. */
    ackQueriesSeen(n: number): Promise<void> {
      let left = n;
      return new Promise((resolve) => {
        onAckQuery = () => {
          if (--left <= 0) {
            onAckQuery = undefined;
            resolve();
          }
        };
      });
    },
  };
}

function hecSink(url: string, over: Record<string, unknown> = {}) {
  const { config } = compileConfig(
    withSinks([{ type: 'http', url, format: 'hec', token: TOKEN, gzip: false, ack: true, batch_size: 2, ...over }]),
  );
  const sink = createSink(config.audit.sinks[0]!);
  onTestFinished(() => sink.close());
  return sink;
}

describe('HEC indexer acknowledgment', () => {
  it('config: ack for format hec only, off by default', () => {
    const hec = compileConfig(
      withSinks([{ type: 'http', url: 'https://s.example:8088/services/collector/event', format: 'hec', ack: true }]),
    );
    expect(hec.config.audit.sinks[0]).toMatchObject({ ack: true });
    const off = compileConfig(withSinks([{ type: 'http', url: 'https://s.example:8088/services/collector/event', format: 'hec' }]));
    expect(off.config.audit.sinks[0]).toMatchObject({ ack: false });
    expect(() => compileConfig(withSinks([{ type: 'http', url: 'https://c.example/ingest', ack: true }]))).toThrow(ConfigError);
    try {
      compileConfig(withSinks([{ type: 'http', url: 'https://c.example/ingest', ack: true }]));
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['audit.sinks[0].ack']);
    }
  });

  it('the ack endpoint sits beside the event endpoint', () => {
    expect(hecAckUrl(new URL('https://s.example:8088/services/collector/event')).href).toBe(
      'https://s.example:8088/services/collector/ack',
    );
    expect(hecAckUrl(new URL('https://s.example/splunk/services/collector')).href).toBe('https://s.example/splunk/services/collector/ack');
    expect(hecAckUrl(new URL('https://s.example/ingest')).href).toBe('https://s.example/services/collector/ack');
  });

  it('a send is delivered only once HEC reports every batch indexed', async () => {
    const hec = await startHec({ ackEnabled: true });
    const sink = hecSink(hec.url);
    let delivered = false;
    // Three records in batches of two: two POSTs, two ackIds, on one channel.
    const sending = sink.send(['{"a":1}', '{"b":2}', '{"c":3}']).then(() => (delivered = true));
    // Not indexed yet: the sink keeps asking, and the send stays open.
    await hec.ackQueriesSeen(2);
    expect(delivered).toBe(false);
    expect(hec.events).toHaveLength(2);
    const [channel] = new Set(hec.events.map((e) => e.channel));
    expect(channel).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(hec.events.every((e) => e.channel === channel)).toBe(true);
    expect(hec.ackQueries[0]).toEqual([0, 1]);
    hec.indexAll();
    await sending;
    expect(delivered).toBe(true);
    expect(sink.ready()).toBe(true);
    // The next send gets the next ids on the same channel.
    const next = sink.send(['{"d":4}']);
    await hec.ackQueriesSeen(1);
    hec.indexAll();
    await next;
    expect(hec.ackQueries.at(-1)).toEqual([2]);
  });

  it('a batch never acknowledged fails the send (the writer sends it again), after a bounded wait', async () => {
    const hec = await startHec({ ackEnabled: true });
    // timeout 100 ms: the ack wait is bounded by ACK_WAIT_FACTOR × timeout.
    const sink = hecSink(hec.url, { timeout: '100ms' });
    const err = await sink.send(['{"a":1}']).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/did not acknowledge 1 batch\(es\) as indexed/);
    expect(isPermanentFailure(err)).toBe(false);
    expect(sink.ready()).toBe(false);
    expect(hec.ackQueries.length).toBeGreaterThan(0);
  });

  it('a token without acknowledgment (no ackId) is a configuration error, not a retry loop', async () => {
    const hec = await startHec({ ackEnabled: false });
    const sink = hecSink(hec.url);
    const err = await sink.send(['{"a":1}']).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/returned no ackId/);
    expect(isPermanentFailure(err)).toBe(true);
  });

  it('ack: false sends no channel and counts the POST answer as delivery (as before)', async () => {
    const hec = await startHec({ ackEnabled: false });
    const sink = hecSink(hec.url, { ack: false });
    await sink.send(['{"a":1}']);
    expect(hec.events.map((e) => e.channel)).toEqual([undefined]);
    expect(hec.ackQueries).toEqual([]);
  });
});
