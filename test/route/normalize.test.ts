import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizePath, splitTarget } from '../../src/route/normalize.ts';

interface Case {
  readonly line: number;
  readonly path: string;
  /** undefined = must be rejected */
  readonly expected: string | undefined;
  /** Third column "escape": the decoded path still holds an escape (refused unless a route allows it). */
  readonly escape: boolean;
}

const FIXTURE = new URL('../fixtures/ambiguous-paths.txt', import.meta.url);

function loadCases(): Case[] {
  const cases: Case[] = [];
  readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text === '' || text.startsWith('#')) return;
      const fields = text.split('\t');
      if (fields.length !== 2 && !(fields.length === 3 && fields[2] === 'escape')) throw new Error(`ambiguous-paths.txt:${i + 1}: expected "<path>\\t<reject|expected>[\\tescape]", got ${JSON.stringify(text)}`);
      const [rawPath, want] = fields as [string, string];
      // "\0" in the fixture stands for a raw NUL (a file of test data should stay plain text).
      const path = rawPath.replaceAll('\\0', '\u0000');
      cases.push({ line: i + 1, path, expected: want === 'reject' ? undefined : want, escape: fields[2] === 'escape' });
    });
  return cases;
}

const cases = loadCases();
const rejects = cases.filter((c) => c.expected === undefined);
const accepts = cases.filter((c) => c.expected !== undefined);

describe('normalizePath (test/fixtures/ambiguous-paths.txt)', () => {
  it('fixture has enough cases of both kinds', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    expect(rejects.length).toBeGreaterThanOrEqual(10);
    expect(accepts.length).toBeGreaterThanOrEqual(10);
  });

  it.each(rejects.map((c) => [JSON.stringify(c.path), c] as const))('rejects %s', (_name, c) => {
    const r = normalizePath(c.path);
    expect(r, `fixture line ${c.line}`).toMatchObject({ ok: false });
    if (!r.ok) expect(r.reason).toMatch(/\S/);
  });

  it.each(accepts.map((c) => [JSON.stringify(c.path), c.expected, c] as const))('normalises %s to %s', (_name, expected, c) => {
    expect(normalizePath(c.path), `fixture line ${c.line}`).toEqual({ ok: true, path: expected, encodedEscape: c.escape });
  });

  it.each(accepts.map((c) => [JSON.stringify(c.expected), c] as const))('normalised form %s is a fixed point', (_name, c) => {
    // Normalising twice must not change anything, or Gatehouse and the upstream could disagree.
    expect(normalizePath(c.expected!), `fixture line ${c.line}`).toEqual({ ok: true, path: c.expected, encodedEscape: c.escape });
  });
});

describe('normalizePath reasons', () => {
  it.each([
    ['/a%2Fb', /slash/],
    ['/a%5cb', /backslash/],
    ['/a\\b', /backslash/],
    ['/a%00b', /NUL/],
    ['/a\u0000b', /NUL/],
    ['/a%0a', /control/],
    ['/a\u0007', /control/],
    ['/a%zz', /percent/],
    ['/%C0%AF', /UTF-8/],
    ['/a/../../x', /root/],
    ['x', /start with/],
  ] as const)('%j is refused with a reason matching %s', (path, reason) => {
    const r = normalizePath(path);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe('splitTarget', () => {
  it.each([
    ['/a/b?x=1&y=2', '/a/b', '?x=1&y=2'],
    ['/a/b', '/a/b', ''],
    ['/', '/', ''],
    ['/?', '/', '?'],
    ['/a?', '/a', '?'],
    ['/a?b?c', '/a', '?b?c'],
    ['/a?x=%2F', '/a', '?x=%2F'],
    ['/a/%2F?q', '/a/%2F', '?q'],
    ['?q=1', '', '?q=1'],
    ['', '', ''],
    ['/a#frag?x', '/a#frag', '?x'],
  ] as const)('splits %j into path %j and query %j', (target, path, query) => {
    expect(splitTarget(target)).toEqual({ path, query });
  });

  it('leaves the query untouched while the path is normalised', () => {
    const { path, query } = splitTarget('/a/./%62/../c?next=/../etc%2Fpasswd');
    expect(query).toBe('?next=/../etc%2Fpasswd');
    expect(normalizePath(path)).toEqual({ ok: true, path: '/a/c', encodedEscape: false });
  });
});
