// The one Cookie header parser and Set-Cookie builder (src/http/cookies.ts), as tables. Every reader
// of a Gatehouse cookie (session, login binding) and the stripping before the upstream go through
// parseCookieHeader, so a row here is what all three see. The choices that matter for security:
// quotes are ordinary bytes (no pair hides inside a quoted value: cookie sandwich), names compare
// exactly (a prefix of a name or another case is another cookie), and two different values of one
// name read as none (one of them was planted).
import { describe, expect, it } from 'vitest';
import { cookieAttributes, cookieValues, parseCookieHeader, readCookie, serializeCookie, type CookiePair } from '../../src/http/cookies.ts';

const pair = (text: string, name: string | undefined, value: string): CookiePair => ({ text, name, value });

describe('parseCookieHeader', () => {
  const cases: readonly [what: string, header: string, pairs: readonly CookiePair[]][] = [
    ['empty header', '', []],
    ['only separators and blanks', ' ; ;\t;; ', []],
    ['one pair', 'a=1', [pair('a=1', 'a', '1')]],
    ['browser spacing', 'a=1; b=2', [pair('a=1', 'a', '1'), pair('b=2', 'b', '2')]],
    ['no space after ";"', 'a=1;b=2', [pair('a=1', 'a', '1'), pair('b=2', 'b', '2')]],
    [
      'blanks around pairs and "=" trimmed (SP and HTAB only)',
      ' \ta \t= \t1 \t; b=2',
      [pair('a \t= \t1', 'a', '1'), pair('b=2', 'b', '2')],
    ],
    ['blanks inside a name or value kept', 'c d=1 2', [pair('c d=1 2', 'c d', '1 2')]],
    ['NBSP is no blank', '\u00a0a=1', [pair('\u00a0a=1', '\u00a0a', '1')]],
    ['empty value', 'a=', [pair('a=', 'a', '')]],
    ['empty name', '=x', [pair('=x', '', 'x')]],
    ['nameless cookie (no "="): its text is the value, it has no name', 'lonely', [pair('lonely', undefined, 'lonely')]],
    ['cut at the first "=": the rest is the value', 'a=b=c', [pair('a=b=c', 'a', 'b=c')]],
    ['quotes are ordinary bytes: a quoted value does not run across ";"', 'a="x; b=y"', [pair('a="x', 'a', '"x'), pair('b=y"', 'b', 'y"')]],
    ['a quoted value keeps its quotes', 'a="1"', [pair('a="1"', 'a', '"1"')]],
    ['$Version is an ordinary name (no RFC 2965 parsing)', '$Version=1; a=2', [pair('$Version=1', '$Version', '1'), pair('a=2', 'a', '2')]],
    ['"," does not separate pairs', 'a=1, b=2', [pair('a=1, b=2', 'a', '1, b=2')]],
    ['duplicates kept in order', 'a=1; a=2; a=1', [pair('a=1', 'a', '1'), pair('a=2', 'a', '2'), pair('a=1', 'a', '1')]],
  ];
  it.each(cases)('%s', (_what, header, pairs) => {
    expect(parseCookieHeader(header)).toEqual(pairs);
  });
  it('reads every header as the split-and-trim definition does (the parser scans by character codes)', () => {
    // The definition: split on ";", trim SP/HTAB, cut at the first "=", trim around it.
    const reference = (header: string): CookiePair[] =>
      header
        .split(';')
        .map((part) => part.replace(/^[ \t]+|[ \t]+$/g, ''))
        .filter((text) => text !== '')
        .map((text) => {
          const eq = text.indexOf('=');
          return eq === -1
            ? pair(text, undefined, text)
            : pair(text, text.slice(0, eq).replace(/[ \t]+$/, ''), text.slice(eq + 1).replace(/^[ \t]+/, ''));
        });
    const alphabet = ['a', 'b', '=', ';', ' ', '\t', '"', '_', '-', '\n', '\u00e9', '\r'];
    let seed = 18;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      let header = '';
      for (let n = next() % 24; n > 0; n--) header += alphabet[next() % alphabet.length];
      expect(parseCookieHeader(header), JSON.stringify(header)).toEqual(reference(header));
    }
  });
});

describe('cookieValues: every value of exactly one name', () => {
  const cases: readonly [what: string, header: string | undefined, values: readonly string[]][] = [
    ['no header', undefined, []],
    ['name absent', 'other=1', []],
    ['one value', 'x=1; gh=v; y=2', ['v']],
    ['duplicates, in order', 'gh=1; gh=2; gh=1', ['1', '2', '1']],
    ['names that contain it are other cookies', 'xgh=1; ghx=2; gh-login=3; _gh=4', []],
    ['a prefix of the name is another cookie', 'g=1', []],
    ['another case is another cookie', 'GH=1; Gh=2', []],
    ['inside another value it is no pair', 'x=gh=2; y="a; b"', []],
    ['a planted pair after a quote is a pair (quotes are bytes)', 'x="1; gh=planted"', ['planted"']],
    ['blanks around "=" belong to no one', 'gh  =  v w;  gh=2  ', ['v w', '2']],
    ['empty value', 'gh=', ['']],
    ['a nameless "gh" is not the cookie gh', 'gh; a=1', []],
  ];
  it.each(cases)('%s', (_what, header, values) => {
    expect(cookieValues(header, 'gh')).toEqual(values);
  });
});

describe('readCookie: one value or none', () => {
  const wellFormed = (v: string) => /^[a-z]+$/.test(v);
  const cases: readonly [what: string, header: string | undefined, read: string | undefined, readWellFormed: string | undefined][] = [
    ['no header', undefined, undefined, undefined],
    ['absent', 'a=1', undefined, undefined],
    ['one value', 'gh=abc', 'abc', 'abc'],
    ['the same value twice is one value', 'gh=abc; gh=abc', 'abc', 'abc'],
    ['two different values are none (one was planted)', 'gh=abc; gh=def', undefined, undefined],
    ['a second value accept refuses does not count', 'gh=abc; gh=12', undefined, 'abc'],
    ['only refused values', 'gh=12', '12', undefined],
    ['empty value', 'gh=', '', undefined],
    ['a prefix or another case of the name is not read', 'g=abc; ghx=abc; GH=abc', undefined, undefined],
    ['quoted values are values as sent', 'gh="abc"', '"abc"', undefined],
    ['whitespace around the pair is no part of the value', ' \tgh = abc \t;', 'abc', 'abc'],
    ['malformed pairs around it do not hide it', ';;=;nameless; gh=abc;=x', 'abc', 'abc'],
  ];
  it.each(cases)('%s', (_what, header, read, readWellFormed) => {
    expect(readCookie(header, 'gh')).toBe(read);
    expect(readCookie(header, 'gh', wellFormed)).toBe(readWellFormed);
  });
});

describe('Set-Cookie: cookieAttributes and serializeCookie', () => {
  const cases: readonly [what: string, attrs: Parameters<typeof cookieAttributes>[0], expected: string][] = [
    ['secure, host-only', { secure: true, sameSite: 'Lax', domain: undefined }, '; Path=/; HttpOnly; Secure; SameSite=Lax'],
    ['dev mode: no Secure', { secure: false, sameSite: 'Strict', domain: undefined }, '; Path=/; HttpOnly; SameSite=Strict'],
    [
      'with a Domain',
      { secure: true, sameSite: 'None', domain: 'corp.example' },
      '; Path=/; HttpOnly; Secure; SameSite=None; Domain=corp.example',
    ],
    ['an empty Domain is host-only', { secure: true, sameSite: 'Lax', domain: '' }, '; Path=/; HttpOnly; Secure; SameSite=Lax'],
  ];
  it.each(cases)('cookieAttributes: %s', (_what, attrs, expected) => {
    expect(cookieAttributes(attrs)).toBe(expected);
  });

  it('serializeCookie: name=value, the attributes, then Max-Age in whole seconds (never negative)', () => {
    const attrs = '; Path=/; HttpOnly';
    expect(serializeCookie('gh', 'v', attrs, 600_000)).toBe('gh=v; Path=/; HttpOnly; Max-Age=600');
    expect(serializeCookie('gh', 'v', attrs, 1_999)).toBe('gh=v; Path=/; HttpOnly; Max-Age=1');
    expect(serializeCookie('gh', 'v', attrs, 999)).toBe('gh=v; Path=/; HttpOnly; Max-Age=0');
    expect(serializeCookie('gh', 'v', attrs, -5_000)).toBe('gh=v; Path=/; HttpOnly; Max-Age=0');
    expect(serializeCookie('gh', '', attrs, 0)).toBe('gh=; Path=/; HttpOnly; Max-Age=0');
  });
});
