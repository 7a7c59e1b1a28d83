// Delivery envelopes carry the event's time, not the send time (issue 14): the RFC 5424 header
// TIMESTAMP of syslog and RELP, and HEC's `time` (plus host, source and a sourcetype per format).
// A record replayed after an outage keeps the time it happened.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { chainLine } from '../../src/audit/chain.ts';
import { toRecord } from '../../src/audit/record.ts';
import { createHttpSink, hecEvent, HEC_SOURCETYPES } from '../../src/audit/sinks/http.ts';
import { eventTimeMs } from '../../src/audit/sinks/record-time.ts';
import { formatSyslog } from '../../src/audit/sinks/syslog.ts';
import { sampleAuth, sampleRequest } from '../support/audit.ts';

// Well in the past: a header stamped with "now" could never match it.
const request = sampleRequest(7, { time: Date.UTC(2025, 0, 2, 3, 4, 5, 678) });
const auth = sampleAuth({ time: Date.UTC(2025, 0, 2, 3, 4, 6, 9) });
const line = (f: typeof request | typeof auth, format: 'ecs' | 'ocsf') =>
  chainLine(toRecord(f, { sequence: 1, bootId: 'b' }, format, ''), '', true).line;

describe('event time in delivery envelopes', () => {
  for (const format of ['ecs', 'ocsf'] as const) {
    for (const facts of [request, auth]) {
      it(`${format} ${facts.kind}: the syslog TIMESTAMP is the event time`, () => {
        const text = formatSyslog(line(facts, format), { appName: 'gatehouse', facility: 10, hostname: 'gh1' }, '42');
        expect(text.split(' ').slice(0, 3)).toEqual(['<86>1', new Date(facts.time).toISOString(), 'gh1']);
      });

      it(`${format} ${facts.kind}: the HEC event has the event time, host, source and the ${format} sourcetype`, () => {
        const l = line(facts, format);
        const e = JSON.parse(hecEvent(l, { host: 'gh1' }));
        expect(e).toEqual({
          event: JSON.parse(l),
          host: 'gh1',
          source: 'gatehouse',
          sourcetype: HEC_SOURCETYPES[format],
          time: facts.time / 1000,
        });
        expect(hecEvent(l, { host: 'gh1' })).toContain(`"time":${(facts.time / 1000).toFixed(3)}}`);
      });
    }
  }

  it('HEC: an index when one is configured', () => {
    expect(JSON.parse(hecEvent(line(request, 'ecs'), { host: 'gh1', index: 'security' })).index).toBe('security');
  });

  it('a record re-serialised by someone else (keys in another order) still yields its time', () => {
    for (const format of ['ecs', 'ocsf'] as const) {
      const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(line(request, format))).reverse()));
      expect(eventTimeMs(reordered)).toBe(request.time);
    }
  });

  it('a line without a time: syslog falls back to the send time, HEC leaves time to Splunk', () => {
    const before = Date.now();
    const stamp = Date.parse(formatSyslog('{"a":1}', { appName: 'gatehouse', facility: 10, hostname: 'gh1' }, '42').split(' ')[1]!);
    expect(stamp).toBeGreaterThanOrEqual(before - 1000);
    expect(JSON.parse(hecEvent('{"a":1}', { host: 'gh1' }))).toEqual({
      event: { a: 1 },
      host: 'gh1',
      source: 'gatehouse',
      sourcetype: 'gatehouse:audit',
    });
  });

  it('syslog header: MSGID is the action, failures and denials are notice (5) not info (6), the sequence is meta sequenceId', () => {
    const header = (f: Parameters<typeof line>[0], format: 'ecs' | 'ocsf', sequence: number) => {
      const l = chainLine(toRecord(f, { sequence, bootId: 'b' }, format, ''), '', true).line;
      return formatSyslog(l, { appName: 'gatehouse', facility: 10, hostname: 'gh1' }, '42')
        .split(' ')
        .filter((_x, i) => i === 0 || i === 5 || i === 6);
    };
    for (const format of ['ecs', 'ocsf'] as const) {
      expect(header(request, format, 7)).toEqual(['<86>1', 'http_request', '[meta']);
      expect(header(sampleRequest(8, { status: 403, decision: 'deny', errorCode: 'GH_FORBIDDEN' }), format, 8)).toEqual([
        '<85>1',
        'http_request',
        '[meta',
      ]);
      expect(header(sampleRequest(9, { websocket: true, status: 101 }), format, 9)).toEqual(['<86>1', 'websocket_session', '[meta']);
      expect(header(sampleAuth({ action: 'bearer_rejected', outcome: 'failure', user: undefined }), format, 10)).toEqual([
        '<85>1',
        'bearer_rejected',
        '[meta',
      ]);
      expect(header(auth, format, 11)).toEqual(['<86>1', 'login_succeeded', '[meta']);
      const full = formatSyslog(line(auth, format), { appName: 'gatehouse', facility: 10, hostname: 'gh1' }, '42');
      expect(full).toContain(' [meta sequenceId="1"] {');
    }
  });
});

describe('HEC refusals', () => {
  it("the error names HEC's code and text (control characters dropped, nothing else of the body), so the log says why", async () => {
    const server = createServer((_req, res) => {
      _req.resume();
      res
        .writeHead(403, { 'content-type': 'application/json' })
        .end('{"text":"Invalid token\\nline two","code":4,"invalid-event-number":0}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/collector/event`;
    const sink = createHttpSink({ url, format: 'hec', token: undefined, batchSize: 10, gzip: false, timeoutMs: 3000, caFile: undefined });
    onTestFinished(() => sink.close());
    await expect(sink.send([line(request, 'ecs')])).rejects.toThrow('HTTP 403 from audit sink: HEC code 4 Invalid tokenline two');
  });
});
