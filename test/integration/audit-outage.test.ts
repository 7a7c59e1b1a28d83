// Issue #7's done-when, as stated: a SIEM receiver (Splunk HEC) that goes down for 30 seconds
// while Gatehouse is under steady load gets every record afterwards, in order, with a valid hash
// chain. Bounded: ~30 s of outage, ~900 requests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { verifyLines } from '../../src/audit/chain.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { startHttpReceiver } from '../support/audit-receivers.ts';
import { firstDeliveries, parseRecords, sequenceOf } from '../support/audit.ts';
import { startUpstream } from '../support/upstream.ts';

const TOKEN = 'hec-outage-test-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SIEM outage under load', () => {
  it('delivers every record, in order, with a valid chain, after a 30 s HEC outage', { timeout: 90_000 }, async () => {
    const up = await startUpstream();
    const rx = await startHttpReceiver({ token: TOKEN });
    const gh = await startTestGatehouse({
      ...baseConfig(up.url),
      audit: {
        spool_dir: mkdtempSync(join(tmpdir(), 'gatehouse-outage-')),
        sinks: [{ type: 'http', url: `${rx.url}/services/collector/event`, format: 'hec', token: TOKEN }],
      },
    });
    let sent = 0;
    const load = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await Promise.all(
          Array.from({ length: 5 }, async () => {
            const r = await request(`${gh.url}/x${sent++}`);
            await r.body.dump();
            expect(r.statusCode).toBe(200);
          }),
        );
        await sleep(20);
      }
    };
    await load(2000);
    rx.status = 503; // the SIEM is down (answers, but refuses)
    await load(15_000);
    await rx.stop(); // ... and then gone entirely
    await load(15_000);
    await rx.start();
    rx.status = 200;
    await load(2000);
    await expect.poll(() => firstDeliveries(parseRecords(rx.lines)).length, { timeout: 30_000, interval: 250 }).toBe(sent);
    const delivered = firstDeliveries(parseRecords(rx.lines));
    expect(delivered.map(sequenceOf)).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    const verify = verifyLines(delivered.map((r) => JSON.stringify(r)));
    // Re-serialised records keep their key order (sorted at build time), so the chain still checks.
    expect(verify).toMatchObject({ ok: true, records: sent });
    expect(rx.problems).toEqual([]);
  });
});
