// Issue 14: every record Gatehouse can write, in both formats, validated against the official
// definitions (ECS: the @elastic/ecs field table; OCSF: the table generated from the ocsf-schema
// release by scripts/ocsf-table.ts). The lines validated are the lines the writer writes
// (toRecord + chainLine), chain fields included.
//
// KNOWN_PROBLEMS is the baseline of problems not fixed yet: it may only shrink. The test fails when
// there are more problems (a regression) and when there are fewer (lower the baseline then).
import { describe, expect, it } from 'vitest';
import { chainLine } from '../../src/audit/chain.ts';
import { toRecord, type AuditFacts, type AuditFormat } from '../../src/audit/record.ts';
import { validateEcs } from '../support/ecs-validate.ts';
import { validateOcsf } from '../support/ocsf-validate.ts';
import { ALL_CASES } from './schema-conformance.cases.ts';

/** Problems per format still to fix (issue 14). May only shrink; 0 is the goal. */
const KNOWN_PROBLEMS: Readonly<Record<AuditFormat, number>> = { ecs: 127, ocsf: 168 };

const validate = { ecs: validateEcs, ocsf: validateOcsf } as const;

/** The record as written: built, chained after a previous record, serialised, parsed back. */
function written(f: AuditFacts, format: AuditFormat, sequence: number): Record<string, unknown> {
  const prev = 'f'.repeat(64);
  const { line } = chainLine(toRecord(f, { sequence, bootId: 'boot-7f3a' }, format, prev), prev, true);
  return JSON.parse(line) as Record<string, unknown>;
}

function problemsOf(format: AuditFormat): { total: number; byCase: Map<string, string[]> } {
  const byCase = new Map<string, string[]>();
  let total = 0;
  ALL_CASES.forEach(([name, facts], i) => {
    const p = validate[format](written(facts, format, i + 1));
    total += p.length;
    if (p.length) byCase.set(name, p);
  });
  return { total, byCase };
}

describe('audit records conform to ECS and OCSF (issue 14)', () => {
  for (const format of ['ecs', 'ocsf'] as const) {
    it(`${format}: ${ALL_CASES.length} records, problems at most the known baseline (${KNOWN_PROBLEMS[format]})`, () => {
      const { total, byCase } = problemsOf(format);
      const report = [...byCase].map(([name, p]) => `${name}:\n    ${p.join('\n    ')}`).join('\n  ');
      console.log(`[schema-conformance] ${format}: ${total} problems in ${ALL_CASES.length} records${total ? `\n  ${report}` : ''}`);
      expect(total, `new ${format} problems:\n  ${report}`).toBeLessThanOrEqual(KNOWN_PROBLEMS[format]);
      expect(total, `${format} has fewer problems than KNOWN_PROBLEMS: lower the baseline to ${total}`).toBe(KNOWN_PROBLEMS[format]);
    });
  }
});

describe('the validators catch broken fields', () => {
  const [, login] = ALL_CASES.find(([name]) => name === 'OIDC login succeeded')!;
  it('ECS: an unknown field, a wrong type, a value outside the allowed list, a type the category does not expect', () => {
    const r = written(login, 'ecs', 1) as Record<string, any>;
    const base = validateEcs(r).length;
    r.surprise = 1;
    r.event = { ...r.event, outcome: 'maybe', type: [...r.event.type, 'allowed'] };
    r.source = { ip: 'not-an-ip' };
    expect(validateEcs(r).length - base).toBeGreaterThanOrEqual(4);
    expect(validateEcs(r).join('\n')).toMatch(/surprise: not an ECS/);
  });
  it('OCSF: an unknown attribute, a wrong type, an enum value outside the enum, a profile not declared', () => {
    const r = written(login, 'ocsf', 1) as Record<string, any>;
    const base = validateOcsf(r).length;
    r.surprise = 1;
    r.severity_id = 42;
    r.time = '2026-03-04';
    r.is_alert = false;
    expect(validateOcsf(r).length - base).toBeGreaterThanOrEqual(4);
    expect(validateOcsf(r).join('\n')).toMatch(/is_alert: belongs to profile security_control/);
  });
});
