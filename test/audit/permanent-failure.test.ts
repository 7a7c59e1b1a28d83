// Issue 14, delivery: a receiver that refuses for good (HEC 401/403/404, a 400 it gives every time)
// is not retried every few seconds forever. The HTTP sink marks such refusals permanent (a real
// receiver answers); the writer then logs an error each time, keeps the records, and tries again
// only after a long pause (fake timers drive the pause: nothing here waits on a clock).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { isPermanentFailure, type AuditSink } from '../../src/audit/sink.ts';
import { createHttpSink } from '../../src/audit/sinks/http.ts';
import { createAuditWriter } from '../../src/audit/writer.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { Secret } from '../../src/config/secret.ts';
import type { Logger } from '../../src/log.ts';
import { startHttpReceiver } from '../support/audit-receivers.ts';
import { sampleRequest } from '../support/audit.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const TOKEN = 'permanent-failure-test-token-0123';

afterEach(() => {
  vi.useRealTimers();
});

describe('permanent refusals', () => {
  it('the HTTP sink marks 400/401/403/404 permanent, and 408/429/5xx not, with HEC code and text in the error', async () => {
    const rx = await startHttpReceiver({ token: TOKEN });
    const sink = createHttpSink({
      url: `${rx.url}/services/collector/event`,
      format: 'hec',
      token: new Secret(TOKEN),
      batchSize: 10,
      gzip: false,
      timeoutMs: 3000,
      caFile: undefined,
    });
    const outcome = async (status: number) => {
      rx.status = status;
      return sink.send(['{"a":1}']).then(
        () => 'ok',
        (err: unknown) => (isPermanentFailure(err) ? 'permanent' : 'transient'),
      );
    };
    const got: Record<number, string> = {};
    for (const s of [400, 401, 403, 404, 408, 429, 500, 503, 200]) got[s] = await outcome(s);
    expect(got).toEqual({
      400: 'permanent',
      401: 'permanent',
      403: 'permanent',
      404: 'permanent',
      408: 'transient',
      429: 'transient',
      500: 'transient',
      503: 'transient',
      200: 'ok',
    });
    await sink.close();
    await rx.stop();
  });

  it('the writer keeps the records, logs an error, and waits the long pause before trying again (not every 5 s)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const sends: number[] = [];
    let refuse = true;
    let sent: () => void = () => {};
    const sink: AuditSink = {
      name: 'fake',
      remote: true,
      ready: () => !refuse,
      close: async () => {},
      send: (lines) => {
        sends.push(lines.length);
        sent();
        return refuse
          ? Promise.reject(Object.assign(new Error('HTTP 403 from audit sink: HEC code 4 Invalid token'), { permanent: true }))
          : Promise.resolve();
      },
    };
    const errors: string[] = [];
    const log = { error: (_o: unknown, m: string) => errors.push(m), warn: () => {}, info: () => {}, debug: () => {} } as unknown as Logger;
    const spoolDir = mkdtempSync(join(tmpdir(), 'gatehouse-permanent-'));
    onTestFinished(() => rmSync(spoolDir, { recursive: true, force: true }));
    const w = createAuditWriter({
      sinks: [sink],
      format: 'ecs',
      onSinkFailure: 'block',
      spoolDir,
      queueSize: 100,
      log,
      permanentRetryMs: 600_000,
    });
    const nextSend = () => new Promise<void>((r) => (sent = r));
    const settle = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));

    let first = nextSend();
    w.write(sampleRequest(1));
    await first;
    await settle();
    expect(errors).toEqual([expect.stringMatching(/^audit sink refuses records \(not a transient failure\); they are held in memory/)]);
    // A transient failure would have been retried several times within a minute.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sends).toEqual([1]);
    expect(w.ready().ok).toBe(false);

    first = nextSend();
    refuse = false;
    await vi.advanceTimersByTimeAsync(540_000);
    await first;
    await settle();
    expect(sends).toEqual([1, 1]);
    expect(w.ready().ok).toBe(true);
  });

  it('a udp:// syslog sink is a warning at load: it cannot keep the no-loss promise', () => {
    const { warnings } = compileConfig({
      ...baseConfig(),
      audit: {
        spool_dir: '/tmp/x',
        sinks: [
          { type: 'syslog', url: 'udp://siem:514' },
          { type: 'syslog', url: 'tcp://siem:6514' },
        ],
      },
    });
    expect(warnings.filter((w) => w.includes('udp://'))).toEqual([
      expect.stringMatching(/^audit\.sinks\[0\]: udp:\/\/ syslog delivers at most once/),
    ]);
  });
});
