// The RELP sink's own behaviour against a strict test receiver (the shared contract is in
// sinks.test.ts): the open handshake, the window of unanswered frames, what a receiver crash costs
// (nothing: unanswered records are sent again, in order), refusals, timeouts and close. The crash
// drills against a real rsyslog are in test/faults/syslog-crash.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { verifyLines } from '../../src/audit/chain.ts';
import { createRelpSink, RelpParser, type RelpSinkOptions } from '../../src/audit/sinks/relp.ts';
import { createAuditWriter } from '../../src/audit/writer.ts';
import { silentLogger } from '../../src/log.ts';
import { startRelpReceiver } from '../support/audit-relp.ts';
import { firstDeliveries, parseRecords, sampleRequest, sequenceOf } from '../support/audit.ts';
import { line } from './sink.contract.ts';

function relp(port: number, over: Partial<RelpSinkOptions> = {}) {
  const sink = createRelpSink({
    host: '127.0.0.1',
    port,
    tls: false,
    caFile: undefined,
    appName: 'gatehouse',
    facility: 10,
    timeoutMs: 5000,
    window: 128,
    ...over,
  });
  onTestFinished(() => sink.close());
  return sink;
}

const lines = (n: number, from = 1) => Array.from({ length: n }, (_, i) => line(from + i));

describe('relp sink', () => {
  it('opens with relp_version and commands=syslog, numbers frames from 1, names itself syslog:relp://', async () => {
    const rx = await startRelpReceiver();
    const sink = relp(rx.port);
    expect(sink.name).toBe(`syslog:relp://127.0.0.1:${rx.port}`);
    await sink.send(lines(3));
    expect(rx.opens).toHaveLength(1);
    expect(rx.opens[0]).toMatch(/^relp_version=0\nrelp_software=gatehouse\ncommands=syslog$/);
    expect(rx.lines).toEqual(lines(3));
    expect(rx.problems).toEqual([]);
  });

  it('keeps at most `window` frames unanswered, and uses all of them', async () => {
    const rx = await startRelpReceiver();
    rx.ackDelayMs = 150;
    const sink = relp(rx.port, { window: 8 });
    await sink.send(lines(40));
    expect(rx.maxUnanswered).toBe(8);
    expect(rx.lines).toEqual(lines(40));
  });

  it('a receiver that dies with frames unanswered: send() rejects with `delivered` = records acknowledged, all of them kept', async () => {
    const rx = await startRelpReceiver();
    rx.ackDelayMs = 1;
    rx.crashAfter = { frames: 25, keepUnanswered: false };
    const sink = relp(rx.port, { window: 10 });
    const err = await sink.send(lines(60)).then(
      () => undefined,
      (e: unknown) => e as { delivered: number; message: string },
    );
    expect(err?.message).toMatch(/RELP delivery to 127\.0\.0\.1:\d+ failed after \d+ of 60 records/);
    expect(err!.delivered).toBeLessThanOrEqual(25);
    // What was acknowledged, the receiver has.
    expect(rx.lines.slice(0, err!.delivered)).toEqual(lines(err!.delivered));
    expect(sink.ready()).toBe(false);
    // The rest goes on a new session, from where the acknowledgements stopped.
    await sink.send(lines(60).slice(err!.delivered));
    expect(sink.ready()).toBe(true);
    expect(firstDeliveries(parseRecords(rx.lines)).map(sequenceOf)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(rx.opens).toHaveLength(2);
    expect(rx.problems).toEqual([]);
  });

  for (const keepUnanswered of [false, true]) {
    it(`through the writer: receiver crashes mid-stream (${keepUnanswered ? 'after writing what it had not answered' : 'losing what it had not answered'}); every record arrives, first deliveries in order, a valid chain`, async () => {
      const rx = await startRelpReceiver();
      rx.crashAfter = { frames: 130, keepUnanswered };
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-relp-writer-'));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      const w = createAuditWriter({
        sinks: [relp(rx.port, { window: 16 })],
        format: 'ecs',
        onSinkFailure: 'buffer',
        spoolDir: dir,
        queueSize: 1000,
        batchSize: 50,
        log: silentLogger,
      });
      onTestFinished(() => w.close(200));
      for (let i = 1; i <= 400; i++) w.write(sampleRequest(i));
      expect(await w.flush(20_000)).toBe(true);
      const records = parseRecords(rx.lines);
      expect(firstDeliveries(records).map(sequenceOf)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
      // Repeats only of what the crash left unanswered: at most one window.
      expect(records.length - 400).toBeLessThanOrEqual(16);
      if (!keepUnanswered) expect(records.length).toBeGreaterThanOrEqual(400);
      expect(verifyLines(rx.lines)).toMatchObject({ ok: true, records: 400, chains: 1 });
      expect(rx.problems).toEqual([]);
    });
  }

  it('a refused record (rsp 500) ends the session; send() rejects with the records before it as delivered', async () => {
    const rx = await startRelpReceiver();
    const sink = relp(rx.port, { window: 1 });
    await sink.send(lines(2));
    rx.refuseNext = 1;
    const err = await sink.send(lines(3, 3)).then(
      () => undefined,
      (e: unknown) => e as { delivered: number; message: string },
    );
    expect(err?.message).toMatch(/refused a record: 500 refused by test/);
    expect(err?.delivered).toBe(0);
    expect(sink.ready()).toBe(false);
    await sink.send(lines(3, 3));
    expect(rx.lines).toEqual(lines(5));
    expect(rx.opens).toHaveLength(2);
  });

  it('refuses a receiver that does not accept the syslog command', async () => {
    const rx = await startRelpReceiver();
    rx.offers = 'relp_version=0\ncommands=eventlog';
    const sink = relp(rx.port);
    await expect(sink.send(lines(1))).rejects.toThrow(/does not accept the "syslog" command/);
    expect(rx.lines).toEqual([]);
  });

  it('an acknowledgement that does not come within the timeout fails the send', async () => {
    const rx = await startRelpReceiver();
    rx.ackDelayMs = 5000;
    const sink = relp(rx.port, { timeoutMs: 300 });
    await expect(sink.send(lines(1))).rejects.toThrow(/no RELP acknowledgement within 300 ms/);
    expect(sink.ready()).toBe(false);
  });

  it('a receiver that is down: connect fails, delivered 0', async () => {
    const rx = await startRelpReceiver();
    await rx.stop();
    const sink = relp(rx.port);
    await expect(sink.send(lines(1))).rejects.toMatchObject({ delivered: 0 });
  });

  it('close() says "close", gets its answer and the serverclose hint, and ends cleanly', async () => {
    const rx = await startRelpReceiver();
    const sink = relp(rx.port);
    await sink.send(lines(1));
    await sink.close();
    expect(rx.problems).toEqual([]);
    expect(rx.lines).toEqual(lines(1));
  });
});

describe('RELP frame parser', () => {
  it('parses frames split anywhere, with and without data', () => {
    const text = Buffer.from(
      '1 rsp 93 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog\n2 rsp 6 200 OK\n3 rsp 0\n0 serverclose 0\n',
    );
    for (const step of [1, 2, 7, text.length]) {
      const p = new RelpParser();
      const frames = [];
      for (let i = 0; i < text.length; i += step) frames.push(...p.push(text.subarray(i, i + step)));
      expect(frames.map((f) => [f.txnr, f.command, f.data.toString()])).toEqual([
        [1, 'rsp', '200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog'],
        [2, 'rsp', '200 OK'],
        [3, 'rsp', ''],
        [0, 'serverclose', ''],
      ]);
    }
  });

  it('throws on a malformed header, a wrong DATALEN or an oversized frame', () => {
    expect(() => new RelpParser().push(Buffer.from('x rsp 6 200 OK\n'))).toThrow(/malformed RELP frame header/);
    expect(() => new RelpParser().push(Buffer.from('1 rsp 3 200 OK\n'))).toThrow(/does not end with LF/);
    expect(() => new RelpParser().push(Buffer.from('1 rsp 99999999 '))).toThrow(/too long/);
    expect(() => new RelpParser().push(Buffer.from(`1 ${'a'.repeat(70)}`))).toThrow(/malformed/);
  });
});
