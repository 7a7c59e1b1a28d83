import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizePath, splitTarget } from '../../src/uri/normalize.ts';

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
      if (fields.length !== 2 && !(fields.length === 3 && fields[2] === 'escape'))
        throw new Error(`ambiguous-paths.txt:${i + 1}: expected "<path>\\t<reject|expected>[\\tescape]", got ${JSON.stringify(text)}`);
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

describe('normalizePath: the slow path, character by character', () => {
  it.each([
    // Raw non-ASCII is encoded as UTF-8, whole code points (astral ones are two UTF-16 units).
    ['/caf\u00e9/x', '/caf%C3%A9/x'],
    ['/\u00e9a', '/%C3%A9a'],
    ['/\ud83d\ude00x', '/%F0%9F%98%80x'],
    ['/\ud83d\ude00/\ud83d\ude00', '/%F0%9F%98%80/%F0%9F%98%80'],
    ['/\ud7ff', '/%ED%9F%BF'],
    ['/\ue000', '/%EE%80%80'],
    // "~" is the last ASCII character a path may hold raw; it is not encoded.
    ['/~a//b', '/~a/b'],
    ['/a~//~', '/a~/~'],
    // Other ASCII outside pchar is percent-encoded.
    ['/a"b', '/a%22b'],
    ['/a<b>', '/a%3Cb%3E'],
    ['/a`{|}^', '/a%60%7B%7C%7D%5E'],
    ['/a b', '/a%20b'],
    // Escapes of unreserved characters are decoded, others get upper-case hex.
    ['/%7e%41%2d%2e%5f', '/~A-._'],
    ['/%3a%40%c3%a9', '/%3A%40%C3%A9'],
    ['/%20', '/%20'],
  ] as const)('%j → %j', (path, expected) => {
    expect(normalizePath(path)).toEqual({ ok: true, path: expected, encodedEscape: false });
  });

  it.each([
    ['/a\u007fb', /control/],
    ['/a%7Fb', /control/],
    ['/a%1Fb', /control/],
    ['/a\u001fb', /control/],
    ['/a\tb', /control/],
    ['/\ud800', /invalid character/],
    ['/\udfff', /invalid character/],
    ['/a\udc00b', /invalid character/],
    ['/\ud83d', /invalid character/],
    ['/%', /percent/],
    ['/%4', /percent/],
    ['/%4g', /percent/],
    ['/%E9', /UTF-8/],
    ['/%C3', /UTF-8/],
    ['/%FF%FE', /UTF-8/],
    ['/%ED%A0%80', /UTF-8/],
    ['/a/.;x/b', /path parameters/],
    ['/a/.;/b', /path parameters/],
    ['/.;', /path parameters/],
    ['/a/..;/b', /path parameters/],
    ['/a/..;x', /path parameters/],
    ['/..;', /path parameters/],
    ['/..', /root/],
    ['/a/../..', /root/],
  ] as const)('%j is refused: %s', (path, reason) => {
    const r = normalizePath(path);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it.each([
    // ";" in a segment is only a dot-segment trick right after "." or "..".
    ['/a/x.;y', '/a/x.;y'],
    ['/a/x..;/b', '/a/x..;/b'],
    ['/a/.x;/b', '/a/.x;/b'],
    ['/a/...;/b', '/a/...;/b'],
    // Dot segments resolve; a trailing one leaves a trailing slash.
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/./b/../c/', '/a/c/'],
    ['/a/..', '/'],
    ['/./', '/'],
    ['/.', '/'],
  ] as const)('%j → %j', (path, expected) => {
    expect(normalizePath(path)).toEqual({ ok: true, path: expected, encodedEscape: false });
  });
});

describe('normalizePath: escapes that survive one decoding (encodedEscape)', () => {
  it.each([
    // "%25" then two hex digits: every edge of 0-9, A-F, a-f.
    ['/%2509', '/%2509', true],
    ['/%2590', '/%2590', true],
    ['/%25AF', '/%25AF', true],
    ['/%25FA', '/%25FA', true],
    ['/%25af', '/%25af', true],
    ['/%25fa', '/%25fa', true],
    ['/x/%252F', '/x/%252F', true],
    ['/%2541/x', '/%2541/x', true],
    // Not hex: the characters just outside each range.
    ['/%25/0', '/%25/0', false],
    ['/%250:', '/%250:', false],
    ['/%25:0', '/%25:0', false],
    ['/%25@0', '/%25@0', false],
    ['/%25G0', '/%25G0', false],
    ['/%250G', '/%250G', false],
    ['/%25%600', '/%25%600', false],
    ['/%25g0', '/%25g0', false],
    ['/%250g', '/%250g', false],
    ['/%25!0', '/%25!0', false],
    // "%u" and four hex digits: IIS and Jetty decode "%u0061" as "a" (CVE-2021-34429).
    ['/%25u0061', '/%25u0061', true],
    ['/%25U2215x', '/%25U2215x', true],
    ['/x/%25uFFFF/y', '/x/%25uFFFF/y', true],
    ['/%25u006', '/%25u006', false],
    ['/%25u006g', '/%25u006g', false],
    ['/%25u0g0g', '/%25u0g0g', false],
    ['/%25ug000', '/%25ug000', false],
    ['/%25x0061', '/%25x0061', false],
    ['/%25v0061', '/%25v0061', false],
    ['/%25T0061', '/%25T0061', false],
    // Too short, or interrupted by a character the path had to encode.
    ['/%25', '/%25', false],
    ['/%254', '/%254', false],
    ['/%25\u00e941', '/%25%C3%A941', false],
    ['/%25"41', '/%25%2241', false],
    ['/%25 41', '/%25%2041', false],
  ] as const)('%j → %j, encodedEscape %s', (path, expected, escape) => {
    expect(normalizePath(path)).toEqual({ ok: true, path: expected, encodedEscape: escape });
  });
});

describe('normalizePath: characters that Unicode folding turns into path syntax', () => {
  // An upstream that folds compatibility forms (Python NFKC, Windows "best fit") reads these as
  // "/", "\", an escape or a dot segment; Gatehouse would not: refused as ambiguous.
  it.each([
    ['/x/\uff0e\uff0e/admin', 'fullwidth ".." segment'],
    ['/x/%EF%BC%8E%EF%BC%8E/admin', 'escaped fullwidth ".." segment'],
    ['/x/\uff0e/admin', 'fullwidth "." segment'],
    ['/x/\uff0e\uff0e', 'trailing fullwidth ".."'],
    ['/x/\uff0e\uff0e\uff1b/admin', 'fullwidth "..;"'],
    ['/x/..\uff1bjs/admin', '".." with a fullwidth ";"'],
    ['/x/\uff0e\uff1b/admin', 'fullwidth ".;"'],
    ['/x/\uff0e\uff1bjs/admin', 'fullwidth ".;" with parameters'],
    ['/admin\uff0fx', 'fullwidth "/"'],
    ['/admin%EF%BC%8Fx', 'escaped fullwidth "/"'],
    ['/admin\uff3cx', 'fullwidth "\\"'],
    ['/admin\uff05\uff12\uff26', 'fullwidth "%2F"'],
    ['/admin\uff05\uff14\uff11', 'fullwidth "%41"'],
    ['/caf\u00e9/\uff0e\uff0e', 'a fold among other non-ASCII'],
  ] as const)('%j (%s) is refused', (path, _what) => {
    const r = normalizePath(path);
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.reason).toMatch(/folding/);
  });

  it.each([
    // Folds that make letters, or dots inside a name, change no syntax.
    ['/\uff41dmin', '/%EF%BD%81dmin', false],
    ['/x/\uff0ex', '/x/%EF%BC%8Ex', false],
    ['/x/x\uff0e\uff0e', '/x/x%EF%BC%8E%EF%BC%8E', false],
    ['/x/\uff0e\uff0e\uff0e', '/x/%EF%BC%8E%EF%BC%8E%EF%BC%8E', false],
    ['/a\uff05\uff12', '/a%EF%BC%85%EF%BC%92', false],
    ['/a\uff05', '/a%EF%BC%85', false],
    ['/admin\uff1bx', '/admin%EF%BC%9Bx', false],
    ['/x/x\uff0e\uff1b', '/x/x%EF%BC%8E%EF%BC%9B', false],
    // Already-folded non-ASCII next to a literal escape: nothing folds, the escape is judged as usual.
    ['/caf%C3%A9/%2541', '/caf%C3%A9/%2541', true],
    ['/caf\u00e9/%2541', '/caf%C3%A9/%2541', true],
  ] as const)('%j → %j (encodedEscape %s)', (path, expected, escape) => {
    expect(normalizePath(path)).toEqual({ ok: true, path: expected, encodedEscape: escape });
  });
});
