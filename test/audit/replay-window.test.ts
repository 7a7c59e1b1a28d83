// Plain TCP/TLS syslog's replay window: what was written shortly before a connection broke is sent
// again, first, on the next connection (the receiver may have lost it with its buffers); its bounds
// in time and in records; and off when set to 0. Against the strict RFC 6587 test receiver.
import { describe, expect, it, onTestFinished } from 'vitest';
import { ReplayWindow } from '../../src/audit/sinks/replay-window.ts';
import { createSyslogSink, type SyslogSinkOptions } from '../../src/audit/sinks/syslog.ts';
import { startSyslogStreamReceiver } from '../support/audit-receivers.ts';
import { line } from './sink.contract.ts';

const lines = (n: number, from = 1) => Array.from({ length: n }, (_, i) => line(from + i));
const frames = (...ids: number[]) => ids.map((i) => Buffer.from(`frame ${i}`));
const texts = (b: Buffer[]) => b.map((f) => f.toString());

describe('ReplayWindow', () => {
  it('replays what was written within the window before the break, oldest first, and counts it as written again', () => {
    const w = new ReplayWindow(10_000, 100);
    w.written(frames(1, 2), 0);
    w.written(frames(3), 5_000);
    w.written(frames(4, 5), 12_000);
    // Broken at 14 s: frames written since 4 s.
    expect(texts(w.replay(14_000, 20_000))).toEqual(['frame 3', 'frame 4', 'frame 5']);
    // Sent again at 20 s: a break at 25 s still owes them.
    expect(texts(w.replay(25_000, 25_000))).toEqual(['frame 3', 'frame 4', 'frame 5']);
  });

  it('holds at most maxRecords (the newest), and nothing when the window is 0', () => {
    const w = new ReplayWindow(10_000, 3);
    w.written(frames(1, 2, 3, 4), 0);
    w.written(frames(5), 1);
    expect(texts(w.replay(2, 2))).toEqual(['frame 3', 'frame 4', 'frame 5']);
    const off = new ReplayWindow(0, 1000);
    off.written(frames(1, 2), 0);
    expect(off.replay(0, 0)).toEqual([]);
    expect(off.size).toBe(0);
  });

  it('stays bounded over many records (compaction)', () => {
    const w = new ReplayWindow(1_000, 10_000);
    for (let t = 0; t < 100_000; t++) w.written(frames(t), t);
    expect(w.size).toBeLessThanOrEqual(1_001);
  });
});

function options(port: number, over: Partial<SyslogSinkOptions> = {}): SyslogSinkOptions {
  return {
    transport: 'tcp',
    tls: false,
    host: '127.0.0.1',
    port,
    caFile: undefined,
    appName: 'gatehouse',
    facility: 10,
    connectTimeoutMs: 2000,
    ...over,
  };
}

describe('syslog over TCP: replay after a broken connection', () => {
  for (const [title, over, expected] of [
    ['default window: the five records written before the break come again, then the new one', {}, [...lines(5), ...lines(5), line(6)]],
    ['replay_max_records 2: only the last two come again', { replayMaxRecords: 2 }, [...lines(5), line(4), line(5), line(6)]],
    ['replay_window 0: nothing comes again (at most once)', { replayWindowMs: 0 }, [...lines(5), line(6)]],
  ] as const) {
    it(title, async () => {
      const rx = await startSyslogStreamReceiver();
      const sink = createSyslogSink(options(rx.port, over));
      onTestFinished(() => sink.close());
      for (let i = 1; i <= 5; i++) await sink.send([line(i)]);
      await expect.poll(() => rx.lines.length, { timeout: 5000 }).toBe(5);
      // The receiver goes away and comes back (its connections are cut).
      await rx.stop();
      await rx.start();
      await sink.send([line(6)]).catch(async () => {
        // The break may only be noticed on this send: the writer retries, so does this test.
        await sink.send([line(6)]);
      });
      await expect.poll(() => rx.lines.length, { timeout: 5000 }).toBe(expected.length);
      expect(rx.lines).toEqual(expected);
      expect(rx.problems).toEqual([]);
    });
  }

  it('a clean close by Gatehouse owes no replay', async () => {
    const rx = await startSyslogStreamReceiver();
    const first = createSyslogSink(options(rx.port));
    await first.send(lines(3));
    await first.close();
    const second = createSyslogSink(options(rx.port));
    onTestFinished(() => second.close());
    await second.send([line(4)]);
    await expect.poll(() => rx.lines.length, { timeout: 5000 }).toBe(4);
    expect(rx.lines).toEqual(lines(4));
  });
});
