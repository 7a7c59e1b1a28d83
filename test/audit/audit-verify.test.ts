// Issue 12, audit item 2: `gatehouse audit-verify` on big files. It used to read every file into
// one array (RangeError: Maximum call stack size exceeded at ~130k lines) and remember every hash
// it saw; now it streams line by line in bounded memory. The million-record file is made with the
// real chain code and checked by the real CLI in a child process under a small heap limit.
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { chainLine, ChainVerifier, verifyLines } from '../../src/audit/chain.ts';
import { toRecord } from '../../src/audit/record.ts';
import { runAuditVerify } from '../../src/cli/audit-verify.ts';
import { sampleAuth, sampleRequest } from '../support/audit.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-verify-big-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Write `n` chained records to `file` (ECS records from the real builder every 1000th line, small
 * ones in between so a million stay ~200 MB); `edit(i, line)` may tamper with line i (1-based).
 */
async function writeChain(file: string, n: number, edit: (i: number, line: string) => string = (_i, l) => l): Promise<void> {
  const out = createWriteStream(file);
  let prev = '';
  let chunk: string[] = [];
  const flush = async () => {
    if (!out.write(`${chunk.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    chunk = [];
  };
  for (let i = 1; i <= n; i++) {
    const record =
      i % 1000 === 1
        ? toRecord(sampleRequest(i), { sequence: i, bootId: 'boot-big' }, 'ecs', prev)
        : { event: { sequence: i }, message: `r${i}` };
    const { line, hash } = chainLine(record, prev, true);
    chunk.push(edit(i, line));
    prev = hash;
    if (chunk.length === 10_000) await flush();
  }
  if (chunk.length > 0) await flush();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

describe('audit-verify on big files', () => {
  it('a million-record file verifies through the CLI with a 64 MB heap (streaming, bounded memory)', { timeout: 240_000 }, async () => {
    const dir = tempDir();
    const file = join(dir, 'audit.ndjson');
    await writeChain(file, 1_000_000);
    expect(statSync(file).size).toBeGreaterThan(100 * 1024 * 1024);
    const r = spawnSync(NODE, ['--max-old-space-size=64', MAIN, 'audit-verify', file], { encoding: 'utf8', timeout: 200_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${file}: 1000000 records in 1 chain (one per process start): OK\n`);
    expect(r.status).toBe(0);
  });

  it('200k lines over a rotated set (oldest first): intact (0); one edited record deep inside is named by file and line (1)', {
    timeout: 120_000,
  }, async () => {
    const dir = tempDir();
    const whole = join(dir, 'whole.ndjson');
    await writeChain(whole, 200_000, (i, l) => (i === 150_002 ? l.replace('"message":"r150002"', '"message":"forged"') : l));
    const lines = readFileSync(whole, 'utf8').slice(0, -1).split('\n');
    const path = join(dir, 'audit.ndjson');
    const files = [`${path}.2`, `${path}.1`, path];
    [lines.slice(0, 80_000), lines.slice(80_000, 160_000), lines.slice(160_000)].forEach((part, i) =>
      writeFileSync(files[i]!, `${part.join('\n')}\n`),
    );
    const out: string[] = [];
    expect(await runAuditVerify(files, (l) => out.push(l))).toBe(1);
    expect(out).toEqual([
      `${files.join(' ')}: 200000 records in 1 chain (one per process start): BROKEN`,
      `  ${path}.1 line 70002: content does not match its hash (edited)`,
    ]);
    // The untouched newest file alone starts mid-chain and is intact.
    expect(await runAuditVerify([path], () => {})).toBe(0);
  });

  it('exact re-deliveries within the window are skipped; one far outside it is reported, not silently accepted', () => {
    const lines: string[] = [];
    let prev = '';
    for (let i = 1; i <= 50; i++) {
      const { line, hash } = chainLine({ event: { sequence: i } }, prev);
      lines.push(line);
      prev = hash;
    }
    const near = new ChainVerifier({ redeliveryWindow: 100 });
    for (const l of [...lines, lines[10]!, lines[49]!]) near.push(l);
    expect(near.result()).toEqual({ ok: true, records: 50, chains: 1, problems: [], warnings: [] });
    const far = new ChainVerifier({ redeliveryWindow: 10 });
    for (const l of [...lines, lines[10]!]) far.push(l);
    expect(far.result().ok).toBe(false);
    expect(far.result().problems).toEqual(['line 51: does not follow line before (a record was deleted, inserted or reordered)']);
  });

  it('keeps the first problems and counts the rest (bounded memory on a badly broken file)', () => {
    const v = new ChainVerifier({ maxProblems: 5 });
    for (let i = 0; i < 1000; i++) v.push('not json');
    expect(v.result().problems).toHaveLength(5);
    expect(v.problemCount).toBe(1000);
    expect(verifyLines(['x']).problems).toEqual(['line 1: not JSON']);
  });

  // Issue 14: the links live in gatehouse.chain (ECS, hash copied to event.hash) and unmapped.chain (OCSF).
  for (const format of ['ecs', 'ocsf'] as const) {
    it(`${format}: a file of real records verifies; bob's records rewritten as someone else and re-hashed do not`, async () => {
      const dir = tempDir();
      const lines: string[] = [];
      let prev = '';
      for (let i = 1; i <= 6; i++) {
        const bob = { name: 'bob', email: 'bob@example.com', groups: ['ml'], idp: 'corp' };
        const facts = i % 2 ? sampleRequest(i, { user: bob }) : sampleAuth({ user: bob });
        const { line, hash } = chainLine(toRecord(facts, { sequence: i, bootId: 'boot-x' }, format, prev), prev, true);
        lines.push(line);
        prev = hash;
      }
      const file = join(dir, 'audit.ndjson');
      writeFileSync(file, `${lines.join('\n')}\n`);
      expect(await runAuditVerify([file], () => {})).toBe(0);
      // The forger recomputes every hash after rewriting bob: an unkeyed chain is self-consistent
      // again (the keyed chain below is not); a single re-hashed record breaks the link to the next.
      const forged = JSON.parse(lines[2]!.replaceAll('bob', 'eve')) as Record<string, any>;
      const at = format === 'ecs' ? forged.gatehouse.chain : forged.unmapped.chain;
      lines[2] = chainLine(forged, at.prev_hash as string, false).line;
      writeFileSync(file, `${lines.join('\n')}\n`);
      const out: string[] = [];
      expect(await runAuditVerify([file], (l) => out.push(l))).toBe(1);
      expect(out.slice(1)).toEqual([
        `  ${file} line 4: does not follow line before (a record was deleted, inserted or reordered)`,
        expect.stringMatching(/^ {2}warning: the last run has no final record/),
      ]);
      if (format === 'ecs') {
        // ECS's event.hash is a copy of gatehouse.chain.hash: changing it alone is an edit.
        const copyEdited = JSON.parse(lines[0]!) as Record<string, any>;
        copyEdited.event.hash = 'f'.repeat(64);
        expect(verifyLines([JSON.stringify(copyEdited)]).problems).toEqual(['line 1: content does not match its hash (edited)']);
      }
    });
  }
});
