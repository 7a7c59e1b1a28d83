// `gatehouse audit-verify <file>...`: check the hash chain of audit files (oldest first when a
// rotated set is given: audit.ndjson.2 audit.ndjson.1 audit.ndjson). Exit 0 = intact, 1 = not.
import { readFileSync } from 'node:fs';
import { verifyLines } from '../audit/chain.ts';
import { printLine } from './print.ts';

export function runAuditVerify(files: readonly string[], out: (line: string) => void = printLine): number {
  if (files.length === 0) {
    out('usage: gatehouse audit-verify <file> [more files, oldest first]');
    return 2;
  }
  const lines: string[] = [];
  for (const f of files) lines.push(...readFileSync(f, 'utf8').split('\n'));
  const r = verifyLines(lines);
  out(`${files.join(' ')}: ${r.records} records in ${r.chains} chain${r.chains === 1 ? '' : 's'} (one per process start): ${r.ok ? 'OK' : 'BROKEN'}`);
  for (const p of r.problems.slice(0, 50)) out(`  ${p}`);
  if (r.problems.length > 50) out(`  ... and ${r.problems.length - 50} more`);
  return r.ok ? 0 : 1;
}
