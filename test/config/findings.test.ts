// Findings: how compile steps hand back problems and warnings, and keep the order they ran in (the
// order check-config prints them in).
import { describe, expect, it } from 'vitest';
import { Findings } from '../../src/config/findings.ts';

describe('Findings', () => {
  it('a step returns its value with what it found', () => {
    const f = new Findings();
    f.problem('a.b', 'is wrong');
    f.warn('careful');
    expect(f.result(42)).toEqual({ value: 42, problems: [{ path: 'a.b', message: 'is wrong' }], warnings: ['careful'] });
  });

  it("take keeps a sub-step's findings after the ones before it, and hands back its value", () => {
    const outer = new Findings();
    outer.problem('first', 'one');
    const inner = new Findings();
    inner.problem('second', 'two');
    inner.warn('w2');
    expect(outer.take(inner.result('value'))).toBe('value');
    outer.problem('third', 'three');
    expect(outer.problems.map((p) => p.path)).toEqual(['first', 'second', 'third']);
    expect(outer.warnings).toEqual(['w2']);
  });

  it('a clean step finds nothing', () => {
    expect(new Findings().result(undefined)).toEqual({ value: undefined, problems: [], warnings: [] });
  });
});
