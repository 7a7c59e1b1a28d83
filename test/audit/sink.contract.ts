// One contract for every AuditSink (sinks.test.ts runs it against stdout, file, syslog TCP/TLS/UDP,
// RELP (test receiver, TLS, real rsyslog) and HTTP HEC/NDJSON): lines arrive complete and in order,
// one record stays one record whatever it contains, and a remote sink reports a receiver that is
// down and recovers when it is back.
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AuditSink } from '../../src/audit/sink.ts';

export interface SinkUnderTest {
  readonly sink: AuditSink;
  /** Record lines the receiver got so far, in order, stripped of framing/envelopes. */
  received(): Promise<string[]>;
  /** Remote sinks: take the receiver down (nothing answers) / bring it back at the same address. */
  stopReceiver?(): Promise<void>;
  startReceiver?(): Promise<void>;
}

export interface SinkHarness {
  /** A fresh sink and receiver; the receiver is closed by the harness after the test. */
  make(): Promise<SinkUnderTest>;
  /** Whether the sink talks to something that can be down (syslog, http). */
  readonly remote: boolean;
  /** Known gaps of this sink, each with the reason (test title → reason). */
  readonly skip?: Readonly<Record<string, string>>;
}

/** A JSON record line like the writer's, `size` bytes or a little more. */
export function line(i: number, size = 120): string {
  const base = {
    '@timestamp': new Date(Date.UTC(2025, 0, 2, 3, 4, 5, i % 1000)).toISOString(),
    event: { sequence: i },
    message: `record ${i}`,
  };
  const pad = Math.max(0, size - JSON.stringify(base).length - 10);
  return JSON.stringify({ ...base, pad: 'x'.repeat(pad) });
}

/**
 * A record whose JSON carries everything that could end or start a frame in some framing: CR, LF,
 * CRLF, a syslog header, an octet-count prefix, an HEC envelope, multi-byte UTF-8 (octet counts are
 * bytes), U+2028/U+2029 and NUL.
 */
export const HOSTILE = JSON.stringify({
  '@timestamp': '2025-01-02T03:04:05.000Z',
  event: { sequence: 2 },
  url: { path: '/a\nb\r\nc\rd' },
  user_agent: { original: '\n<13>1 2025-01-02T03:04:05Z evil-host gatehouse 1 audit - {"forged":true}\n' },
  message: '64 <13>1 2025-01-02T03:04:05Z evil gatehouse 1 audit - {"event":{"sequence":99}}\r\n99 <14>1 - - - - - -',
  hec: '"}{"event":{"forged":true}}\n{"event":{"forged":2}}',
  unicode: 'ünïcödé € 😀 \u2028\u2029 \u0000 \t end',
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runAuditSinkContract(name: string, harness: SinkHarness): void {
  const test = (title: string, fn: () => Promise<void>) => {
    const reason = harness.skip?.[title];
    if (reason) it.skip(`${title} (skipped: ${reason})`, fn);
    else it(title, fn, 20_000);
  };

  /** A sink under test that is closed (once) when the test finishes. */
  const make = async (): Promise<SinkUnderTest & { close(): Promise<void> }> => {
    const s = await harness.make();
    let closed: Promise<void> | undefined;
    const close = () => (closed ??= s.sink.close());
    onTestFinished(() => close());
    return { ...s, close };
  };

  /** Wait until at least `n` lines arrived (bounded), then return exactly what arrived. */
  const arrived = async (s: SinkUnderTest, n: number): Promise<string[]> => {
    await expect.poll(async () => (await s.received()).length, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(n);
    // Anything extra (a duplicate, a forged record) would arrive right behind: give it a moment.
    await sleep(30);
    return s.received();
  };

  describe(`AuditSink contract: ${name}`, () => {
    test('has a name without secrets and says whether it is remote', async () => {
      const s = await make();
      expect(s.sink.name).toMatch(/^(stdout|file:|syslog:|http:)/);
      expect(s.sink.name).not.toMatch(/token|secret|password|@/i);
      expect(s.sink.remote).toBe(harness.remote);
    });

    test('lines arrive in order across several send() calls', async () => {
      const s = await make();
      const sent: string[] = [];
      for (let call = 0; call < 5; call++) {
        const batch = Array.from({ length: call + 1 }, (_, j) => line(sent.length + j + 1));
        await s.sink.send(batch);
        sent.push(...batch);
      }
      expect(await arrived(s, sent.length)).toEqual(sent);
    });

    test('a batch of 1000 arrives complete and in order', async () => {
      const s = await make();
      const sent = Array.from({ length: 1000 }, (_, i) => line(i + 1, 300));
      await s.sink.send(sent);
      const got = await arrived(s, 1000);
      expect(got.length).toBe(1000);
      expect(got).toEqual(sent);
    });

    test('a record with CR, LF, a syslog header and an octet-count prefix in its JSON stays exactly one record', async () => {
      const s = await make();
      const sent = [line(1), HOSTILE, line(3)];
      await s.sink.send(sent);
      const got = await arrived(s, 3);
      expect(got).toEqual(sent);
      expect(JSON.parse(got[1]!)).toEqual(JSON.parse(HOSTILE));
      // Nothing forged arrives later either.
      await s.sink.send([line(4)]);
      expect(await arrived(s, 4)).toEqual([...sent, line(4)]);
    });

    test('ready() is true after a successful send', async () => {
      const s = await make();
      await s.sink.send([line(1)]);
      expect(s.sink.ready()).toBe(true);
      await arrived(s, 1);
    });

    test('close() resolves after a send', async () => {
      const s = await make();
      await s.sink.send([line(1)]);
      await arrived(s, 1);
      await expect(s.close()).resolves.toBeUndefined();
    });

    if (harness.remote) {
      test('remote: with the receiver stopped, send() rejects and ready() is false', async () => {
        const s = await make();
        await s.sink.send([line(1)]);
        await arrived(s, 1);
        await s.stopReceiver!();
        await expect(s.sink.send([line(2)])).rejects.toBeInstanceOf(Error);
        expect(s.sink.ready()).toBe(false);
      });

      test('remote: after the receiver restarts, send() succeeds again and ready() is true', async () => {
        const s = await make();
        await s.sink.send([line(1)]);
        await arrived(s, 1);
        await s.stopReceiver!();
        await s.sink.send([line(2)]).catch(() => undefined);
        await s.startReceiver!();
        await s.sink.send([line(3)]);
        expect(s.sink.ready()).toBe(true);
        const got = await arrived(s, 2);
        expect(got[0]).toBe(line(1));
        expect(got.at(-1)).toBe(line(3));
        // line 2 was refused (or, over a transport without feedback, lost): never duplicated or reordered.
        expect(got.filter((l) => l === line(2)).length).toBeLessThanOrEqual(1);
      });
    }
  });
}
