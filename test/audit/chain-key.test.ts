// Issue 14, tamper evidence: a keyed chain (audit.chain_key_file, HMAC-SHA256), runs linked to the
// run before (chain-head.ts), a final record on close. Records are written by the real writer into
// a real file sink and checked by the real `audit-verify` code: a rewritten and re-hashed file
// fails with the key, a deleted run breaks the next run's link, a cut tail is reported.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { chainLine } from '../../src/audit/chain.ts';
import { readChainKey } from '../../src/audit/create.ts';
import { createFileSink } from '../../src/audit/sinks/file.ts';
import { createAuditWriter } from '../../src/audit/writer.ts';
import { runAuditVerify } from '../../src/cli/audit-verify.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { parseRecords, sampleAuth, sampleRequest } from '../support/audit.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-chain-key-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const BOB = { name: 'bob', email: 'bob@example.com', groups: ['ml'], idp: 'corp' };

/** One process run: a writer with a file sink, `n` records (bob's), closed cleanly. */
async function run(file: string, spoolDir: string, n: number, format: 'ecs' | 'ocsf', chainKey?: Buffer): Promise<void> {
  const sink = createFileSink({ path: file, maxBytes: 100 * 1024 * 1024, maxFiles: 2, fsync: 'always' });
  const w = createAuditWriter({ sinks: [sink], format, onSinkFailure: 'buffer', spoolDir, queueSize: 100, log: silentLogger, chainKey });
  for (let i = 1; i <= n; i++) w.write(i % 2 ? sampleRequest(i, { user: BOB }) : sampleAuth({ user: BOB }));
  await w.close(2000);
}

const lines = (file: string) => readFileSync(file, 'utf8').slice(0, -1).split('\n');

async function verify(file: string, keyFile?: string): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await runAuditVerify([file], (l) => out.push(l), keyFile);
  return { code, out };
}

/** The forger's rewrite: bob becomes eve and every hash is recomputed, as the unkeyed code does. */
function rewriteAndRehash(file: string): void {
  let prev = '';
  const out = lines(file).map((l, i) => {
    const rec = JSON.parse(l.replaceAll('bob', 'eve')) as Record<string, any>;
    const chain = rec.gatehouse?.chain ?? rec.unmapped.chain;
    if (i === 0) prev = chain.prev_hash;
    const { line, hash } = chainLine(rec, prev, false);
    prev = hash;
    return line;
  });
  writeFileSync(file, `${out.join('\n')}\n`);
}

describe('keyed chain (audit.chain_key_file)', () => {
  for (const format of ['ecs', 'ocsf'] as const) {
    it(`${format}: verifies with the key; rewritten as someone else and re-hashed, it FAILS with the key`, async () => {
      const dir = tempDir();
      const keyFile = join(dir, 'chain.key');
      writeFileSync(keyFile, `${'k'.repeat(40)}\n`);
      const file = join(dir, 'audit.ndjson');
      await run(file, join(dir, 'spool'), 6, format, readChainKey(keyFile));
      const records = parseRecords(lines(file));
      expect(records).toHaveLength(7);
      expect(records.every((r) => (r.gatehouse?.chain ?? r.unmapped.chain).alg === 'hmac-sha256')).toBe(true);
      expect(await verify(file, keyFile)).toEqual({ code: 0, out: [`${file}: 7 records in 1 chain (one per process start): OK`] });
      // Without the key the links are checked, the hashes cannot be: said, not failed.
      const unkeyed = await verify(file);
      expect(unkeyed.code).toBe(0);
      expect(unkeyed.out.at(-1)).toBe('  warning: 7 keyed record(s) not checked: pass --key-file with the audit.chain_key_file key');

      rewriteAndRehash(file);
      const forged = await verify(file, keyFile);
      expect(forged.code).toBe(1);
      expect(forged.out[0]).toMatch(/: BROKEN$/);
      expect(forged.out.slice(1, 8)).toEqual(
        Array.from({ length: 7 }, (_, i) => `  ${file} line ${i + 1}: content does not match its keyed hash (edited)`),
      );
      // A wrong key fails the original too.
      const other = join(dir, 'other.key');
      writeFileSync(other, 'x'.repeat(32));
      expect((await verify(file, other)).code).toBe(1);
    });
  }

  it('an unkeyed record among keyed ones (its alg dropped and re-hashed) fails with the key', async () => {
    const dir = tempDir();
    const keyFile = join(dir, 'chain.key');
    writeFileSync(keyFile, 'k'.repeat(32));
    const file = join(dir, 'audit.ndjson');
    await run(file, join(dir, 'spool'), 3, 'ecs', readChainKey(keyFile));
    const all = lines(file);
    const rec = JSON.parse(all[1]!) as Record<string, any>;
    delete rec.gatehouse.chain.alg;
    all[1] = chainLine(rec, rec.gatehouse.chain.prev_hash as string, false).line;
    writeFileSync(file, `${all.join('\n')}\n`);
    const r = await verify(file, keyFile);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`  ${file} line 2: not keyed with the chain key (written without it, or rewritten and re-hashed)`);
  });

  it('refuses a key file that is missing or shorter than 32 bytes', () => {
    const dir = tempDir();
    const short = join(dir, 'short.key');
    writeFileSync(short, `${'k'.repeat(31)}\n`);
    expect(() => readChainKey(short)).toThrow(ConfigError);
    expect(() => readChainKey(short)).toThrow(/31 bytes; at least 32/);
    expect(() => readChainKey(join(dir, 'missing'))).toThrow(/cannot read .*ENOENT/);
  });

  it('an unkeyed chain is a warning at load; a key file silences it', () => {
    const withAudit = (audit: Record<string, unknown>) => ({
      ...baseConfig(),
      audit: { spool_dir: '/tmp/gatehouse-test-spool', ...audit },
    });
    const unkeyed = compileConfig(withAudit({ sinks: [{ type: 'stdout' }] }));
    expect(unkeyed.warnings.filter((w) => w.startsWith('audit.chain_key_file is not set'))).toHaveLength(1);
    const keyed = compileConfig(withAudit({ sinks: [{ type: 'stdout' }], chain_key_file: '/etc/gatehouse/audit-chain.key' }));
    expect(keyed.warnings.filter((w) => w.includes('chain_key_file'))).toEqual([]);
    expect(keyed.config.audit.chainKeyFile).toBe('/etc/gatehouse/audit-chain.key');
  });
});

describe('runs linked across process starts', () => {
  it('each run links to the run before; a deleted run breaks the link; a cut tail is reported', async () => {
    const dir = tempDir();
    const keyFile = join(dir, 'chain.key');
    writeFileSync(keyFile, 'k'.repeat(32));
    const key = readChainKey(keyFile);
    const file = join(dir, 'audit.ndjson');
    const spool = join(dir, 'spool');
    for (const n of [3, 2, 2]) await run(file, spool, n, 'ecs', key);
    const all = lines(file);
    const records = parseRecords(all);
    expect(records.map((r) => r.event.action === 'audit_stopped')).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      true,
      false,
      false,
      true,
    ]);
    // Run 2's first record links to run 1's final record.
    expect(records[4]!.gatehouse.chain.prev_hash).toBe(records[3]!.gatehouse.chain.hash);
    expect(await verify(file, keyFile)).toEqual({ code: 0, out: [`${file}: 10 records in 3 chains (one per process start): OK`] });

    // Run 2 deleted whole: run 3 links to a head that is not there.
    writeFileSync(file, `${[...all.slice(0, 4), ...all.slice(7)].join('\n')}\n`);
    const deleted = await verify(file, keyFile);
    expect(deleted.code).toBe(1);
    expect(deleted.out[1]).toBe(
      `  ${file} line 5: a new run that does not link to the end of the run before (a run or the records between were deleted)`,
    );

    // The tail cut (run 3's last records, its final record among them): reported.
    writeFileSync(file, `${all.slice(0, 8).join('\n')}\n`);
    const cut = await verify(file, keyFile);
    expect(cut.code).toBe(0);
    expect(cut.out.at(-1)).toBe(
      `  warning: the last run has no final record (after ${file} line 8): that process is still running or was killed, or the end of the file was cut`,
    );
  });
});
