// The request walk is documented twice: the header of src/server/pipeline.ts (for whoever reads
// the code) and README.md's "How a request is handled" table (for operators). Both must list the
// same stages, in the same order, with the same statuses and error codes each stage may answer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const PIPELINE = readFileSync(new URL('../../src/server/pipeline.ts', import.meta.url), 'utf8');
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

interface Stage {
  readonly n: number;
  readonly name: string;
  /** Statuses and GH_ codes the stage may answer with, sorted. */
  readonly answers: readonly string[];
}

/** "302/303, 401 `GH_UNAUTHENTICATED`" → ["302", "303", "401", "GH_UNAUTHENTICATED"]. */
function answers(text: string): string[] {
  return [...new Set(text.match(/\b\d{3}\b|\bGH_[A-Z0-9_]+\b/g) ?? [])].sort();
}

/** Header lines "//   N. name  ..." and, below each, "//   may answer: ...". */
function headerStages(source: string): Stage[] {
  const stages: Stage[] = [];
  let current: { n: number; name: string } | undefined;
  for (const line of source.split('\n')) {
    if (!line.startsWith('//')) break;
    const head = /^\/\/\s+(\d+)\.\s+([a-z-]+)\s/.exec(line);
    if (head) current = { n: Number(head[1]), name: head[2]! };
    const may = /^\/\/\s+may answer:(.*)$/.exec(line);
    if (may && current) {
      stages.push({ ...current, answers: answers(may[1]!) });
      current = undefined;
    }
  }
  return stages;
}

/** Rows "| N | stage | what happens | may answer |" of the README section. */
function readmeStages(readme: string): Stage[] {
  const start = readme.indexOf('## How a request is handled');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const stages: Stage[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 6 || !/^\d+$/.test(cells[1]!)) continue;
    stages.push({ n: Number(cells[1]), name: cells[2]!, answers: answers(cells[4]!) });
  }
  return stages;
}

describe('the pipeline header and the README walk table agree', () => {
  const header = headerStages(PIPELINE);
  const table = readmeStages(README);

  it('both list stages 1..n in order (the parsers see them)', () => {
    expect(header.length).toBeGreaterThanOrEqual(9);
    expect(header.map((s) => s.n)).toEqual(header.map((_, i) => i + 1));
    expect(table.map((s) => s.n)).toEqual(table.map((_, i) => i + 1));
  });

  it('same stage names, same statuses and codes per stage', () => {
    expect(header).toEqual(table);
  });

  it('a difference is seen: a code missing from one side fails the comparison', () => {
    const changed = PIPELINE.replace('may answer: 431 GH_HEADERS_TOO_LARGE', 'may answer: 431');
    expect(headerStages(changed)).not.toEqual(table);
    expect(answers('400 `GH_BAD_HOST`, 302/303')).toEqual(['302', '303', '400', 'GH_BAD_HOST']);
  });
});
