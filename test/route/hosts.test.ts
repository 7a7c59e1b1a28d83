// Host matching (src/route/hosts.ts), the one implementation behind the route table, the hosts
// forward-auth may describe and the hosts a return URL may name: exact names, "*.suffix"
// wildcards, canonical forms on both sides, and the order in which patterns win.
import { describe, expect, it } from 'vitest';
import { createHostIndex, createHostMatcher, parseHostPattern } from '../../src/route/hosts.ts';

const CONFIGURED = ['app.corp.example', '*.corp.example', '*.a.corp.example', '127.0.0.1', '[::1]'];

describe('createHostMatcher', () => {
  const matches = createHostMatcher(CONFIGURED);
  it.each<[string, boolean, string]>([
    ['app.corp.example', true, 'exact name'],
    ['x.corp.example', true, 'one label under a wildcard'],
    ['x.y.corp.example', true, 'several labels under a wildcard'],
    ['corp.example', false, 'a wildcard does not match its own base'],
    ['.corp.example', false, 'nothing before the suffix'],
    ['xcorp.example', false, 'the suffix starts at a dot'],
    ['app.corp.example.evil', false, 'a served name as a prefix'],
    ['evil-app.corp.example', true, 'any label under a wildcard (it is a wildcard)'],
    ['127.0.0.1', true, 'IPv4 literal'],
    ['127.0.0.2', false, 'other IPv4 literal'],
    ['[::1]', true, 'IPv6 literal in brackets'],
    ['other.example', false, 'unrelated name'],
    ['', false, 'empty'],
  ])('%s → %s (%s)', (host, expected) => {
    expect(matches(host)).toBe(expected);
  });

  it('configured names are canonicalised like request hosts: upper case folds, a name the Host parser refuses matches nothing', () => {
    const m = createHostMatcher([
      'App.Corp.Example',
      'trailing.example.',
      `${'l'.repeat(64)}.example`,
      '*.bad..example',
      'with.port.example:8443',
    ]);
    expect(m('app.corp.example')).toBe(true);
    expect(m('trailing.example.')).toBe(false);
    expect(m('trailing.example')).toBe(false);
    expect(m(`${'l'.repeat(64)}.example`)).toBe(false);
    expect(m('x.bad..example')).toBe(false);
    expect(m('with.port.example')).toBe(false);
  });

  it('no names: nothing matches', () => {
    expect(createHostMatcher([])('app.corp.example')).toBe(false);
  });
});

describe('parseHostPattern', () => {
  it.each<[string, ReturnType<typeof parseHostPattern>]>([
    ['app.corp.example', { kind: 'exact', host: 'app.corp.example' }],
    ['*.corp.example', { kind: 'suffix', suffix: '.corp.example' }],
    ['[::1]', { kind: 'exact', host: '[::1]' }],
    ['*.', undefined],
    ['a.*.example', undefined],
    ['host:80', undefined],
  ])('%s', (name, expected) => {
    expect(parseHostPattern(name)).toEqual(expected);
  });
});

describe('createHostIndex: which pattern wins', () => {
  const index = createHostIndex<string>([
    ['*.corp.example', 'wild-1'],
    ['app.corp.example', 'exact-1'],
    ['*.a.corp.example', 'deep'],
    ['*.corp.example', 'wild-2'],
    ['app.corp.example', 'exact-2'],
  ]);
  it.each<[string, string[][]]>([
    [
      'app.corp.example',
      [
        ['exact-1', 'exact-2'],
        ['wild-1', 'wild-2'],
      ],
    ],
    ['x.a.corp.example', [['deep'], ['wild-1', 'wild-2']]],
    ['a.corp.example', [['wild-1', 'wild-2']]],
    ['corp.example', []],
  ])('%s: exact first, then wildcards by longest suffix, values in the order given', (host, groups) => {
    expect(index.lookup(host)).toEqual(groups);
  });
});
