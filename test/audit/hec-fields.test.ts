// Issue 14, delivery envelopes: a HEC sink can name its Splunk index and add indexed fields to
// every event, set in config (audit.sinks[].index / fields, HEC only). A real HTTP server takes
// the POST the real sink sends; the envelope is read as Splunk would.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSink } from '../../src/audit/create.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const withSinks = (sinks: unknown[]) => ({ ...baseConfig(), audit: { spool_dir: '/tmp/gatehouse-test-spool', sinks } });

describe('HEC index and fields', () => {
  it('config: index and fields for format hec; refused for ndjson', () => {
    const { config } = compileConfig(
      withSinks([
        {
          type: 'http',
          url: 'https://splunk.corp.example:8088/services/collector/event',
          format: 'hec',
          token: 'b2c1f0e4-7d3a-4e59-9a61-3f8e2d7c5b14',
          index: 'security',
          fields: { env: 'prod', dc: 'fra1' },
        },
      ]),
    );
    expect(config.audit.sinks[0]).toMatchObject({ type: 'http', index: 'security', fields: { env: 'prod', dc: 'fra1' } });
    let problems: readonly { path: string }[] = [];
    try {
      compileConfig(
        withSinks([{ type: 'http', url: 'https://c.example/ingest', format: 'ndjson', index: 'security', fields: { env: 'prod' } }]),
      );
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems.map((p) => p.path)).toEqual(['audit.sinks[0].index', 'audit.sinks[0].fields']);
  });

  it('every event carries the configured index and fields', async () => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/collector/event`;
    const { config } = compileConfig(
      withSinks([
        {
          type: 'http',
          url,
          format: 'hec',
          token: 'b2c1f0e4-7d3a-4e59-9a61-3f8e2d7c5b14',
          gzip: false,
          index: 'security',
          fields: { env: 'prod', dc: 'fra1' },
        },
      ]),
    );
    const sink = createSink(config.audit.sinks[0]!);
    onTestFinished(() => sink.close());
    await sink.send(['{"a":1}', '{"b":2}']);
    const events = bodies
      .join('\n')
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toHaveLength(2);
    for (const e of events) expect(e).toMatchObject({ index: 'security', fields: { env: 'prod', dc: 'fra1' }, source: 'gatehouse' });
    expect(events.map((e) => e.event)).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
