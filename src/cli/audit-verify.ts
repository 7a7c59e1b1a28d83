// `gatehouse audit-verify [--key-file KEY] <file>...`: check the hash chain of audit files (oldest
// first when a rotated set is given: audit.ndjson.2 audit.ndjson.1 audit.ndjson). Exit 0 = intact,
// 1 = not. With --key-file (the audit.chain_key_file of the writer) every record must carry the
// keyed hash: a rewritten and re-hashed file fails. Warnings (a run without its final record,
// keyed records checked without the key) are printed but do not fail.
// Files are streamed line by line through one ChainVerifier: memory stays bounded whatever their
// size (a rotated file at the default 100 MB max_size holds ~130k records).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ChainVerifier } from '../audit/chain.ts';
import { readChainKey } from '../audit/create.ts';
import { printLine } from './print.ts';

const SHOWN = 50;

export async function runAuditVerify(files: readonly string[], out: (line: string) => void = printLine, keyFile?: string): Promise<number> {
  if (files.length === 0) {
    out('usage: gatehouse audit-verify [--key-file KEY] <file> [more files, oldest first]');
    return 2;
  }
  let key: Buffer | undefined;
  try {
    key = keyFile === undefined ? undefined : readChainKey(keyFile);
  } catch (err) {
    out(`--key-file: ${(err as Error).message.split('\n').at(-1)?.trim()}`);
    return 2;
  }
  const v = new ChainVerifier({ maxProblems: SHOWN, key });
  for (const f of files) {
    const lines = createInterface({ input: createReadStream(f), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) v.push(line, `${f} line ${++n}`);
  }
  const r = v.result();
  out(
    `${files.join(' ')}: ${r.records} records in ${r.chains} chain${r.chains === 1 ? '' : 's'} (one per process start): ${r.ok ? 'OK' : 'BROKEN'}`,
  );
  for (const p of r.problems) out(`  ${p}`);
  if (v.problemCount > r.problems.length) out(`  ... and ${v.problemCount - r.problems.length} more`);
  for (const w of r.warnings) out(`  warning: ${w}`);
  return r.ok ? 0 : 1;
}
