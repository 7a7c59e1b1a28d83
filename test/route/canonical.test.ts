// policyPath: the one path routing, rules and api_paths judge. Every spelling that a common
// upstream serves as the same resource must come out the same: ";params" (Tomcat, Spring), trailing
// dots and spaces of a segment (IIS, Windows), escapes that survive normalisation, and Unicode
// compatibility forms (NFKC). Inputs are normalised paths (uri/normalize.ts output); case is left
// alone (folding is per route).
import { describe, expect, it } from 'vitest';
import { foldCase, policyPath, policyReadings } from '../../src/route/canonical.ts';
import { normalizePath } from '../../src/uri/normalize.ts';

describe('policyPath', () => {
  it.each([
    // Plain paths come back unchanged (the fast path).
    ['/', '/'],
    ['/admin', '/admin'],
    ['/admin/', '/admin/'],
    ['/Admin/Users', '/Admin/Users'],
    ['/a/b.c/d', '/a/b.c/d'],
    ['/a/.b', '/a/.b'],
    ['/a b/c', '/a b/c'],
    ['/v1.2/x', '/v1.2/x'],
    ['/a-b_c~d', '/a-b_c~d'],
    // ";params" are dropped from every segment.
    ['/admin;x=1', '/admin'],
    ['/admin;jsessionid=1/users', '/admin/users'],
    ['/a;x/b;y', '/a/b'],
    ['/admin;', '/admin'],
    ['/admin;/x', '/admin/x'],
    // A segment emptied by that is no segment, except the last, which keeps the trailing slash.
    ['/;x/admin', '/admin'],
    ['/admin/;x', '/admin/'],
    ['/;x', '/'],
    // Trailing dots and spaces of a segment are dropped.
    ['/admin.', '/admin'],
    ['/admin..', '/admin'],
    ['/admin./users', '/admin/users'],
    ['/admin /users', '/admin/users'],
    ['/admin. .', '/admin'],
    ['/admin ', '/admin'],
    ['/a.b.', '/a.b'],
    ['/.../admin', '/admin'],
    ['/admin/...', '/admin/'],
    ['/...', '/'],
    // Escapes left by normalisation are decoded before that.
    ['/admin%20', '/admin'],
    ['/admin%20/x', '/admin/x'],
    ['/100%25off', '/100%off'],
    ['/caf%C3%A9', '/caf\u00e9'],
    // An escape that cannot be decoded stays as written (only reachable with unsafe_allow_encoded_escapes).
    ['/a%zz/b', '/a%zz/b'],
    ['/%E9/x', '/%E9/x'],
    // Compatibility forms fold where non-ASCII is present.
    ['/\uff41dmin', '/admin'],
    ['/%EF%BD%81dmin', '/admin'],
    ['/\ufb01le', '/file'],
    ['/x/\u2160', '/x/I'],
    // Folding comes first, so what it turns into ";", "." or " " is stripped like the real thing.
    ['/admin\uff0e', '/admin'],
    ['/admin%EF%BC%8E', '/admin'],
    ['/admin\uff1bx=1', '/admin'],
    ['/admin%EF%BC%9Bx=1/y', '/admin/y'],
    ['/admin\u3000', '/admin'],
    ['/\uff41dmin\uff0e/x', '/admin/x'],
    ['/caf\u00e9;x', '/caf\u00e9'],
  ] as const)('%j → %j', (path, expected) => {
    expect(policyPath(path)).toBe(expected);
  });

  it('never folds case itself', () => {
    expect(policyPath('/ADMIN;x')).toBe('/ADMIN');
    expect(policyPath('/\uff21DMIN')).toBe('/ADMIN');
  });

  it('is idempotent on everything the table produces', () => {
    for (const p of ['/admin;x=1', '/admin./users', '/;x/admin', '/admin/...', '/caf%C3%A9', '/\uff41dmin', '/a%zz/b', '/100%25off']) {
      const once = policyPath(p);
      // "%" decoded once is text; a second pass must not decode it again.
      if (!once.includes('%')) expect(policyPath(once)).toBe(once);
    }
  });

  it('every spelling of /admin an upstream would serve as /admin meets the same policy path', () => {
    const spellings = [
      '/admin',
      '/%61dmin',
      '/admin;x=1',
      '/admin.',
      '/admin%20',
      '/admin.%20.',
      '/./admin',
      '/x/../admin',
      '/\uff41dmin',
      '/%EF%BD%81dmin',
      '//admin',
    ];
    for (const raw of spellings) {
      const n = normalizePath(raw);
      expect(n.ok, raw).toBe(true);
      if (n.ok) expect(policyPath(n.path), raw).toBe('/admin');
    }
  });
});

describe('policyReadings: every way an upstream may read the path, the canonical one first', () => {
  it.each([
    // A plain path has one reading.
    ['/admin', ['/admin']],
    ['/admin/', ['/admin/']],
    ['/a/b.c/d', ['/a/b.c/d']],
    // ";params" dropped or kept; trailing dots dropped or kept; both.
    ['/admin;x', ['/admin', '/admin;x']],
    ['/admin.', ['/admin', '/admin.']],
    ['/a;x.', ['/a', '/a;x.', '/a;x']],
    ['/;x/a', ['/a', '/;x/a']],
    ['/a/;x', ['/a/', '/a/;x']],
    // Decoded first, in every reading: "%3B" is a ";", "%20" a space (trimmed at both ends).
    ['/a%3Bx', ['/a', '/a;x']],
    ['/%20admin%20/x', ['/admin/x', '/ admin /x']],
    ['/%20%20', ['/', '/  ']],
    ['/x/%20.%20', ['/x/', '/x/ . ']],
    // NFKC folded or not; a fullwidth dot is only a dot once folded.
    ['/%EF%BD%81dmin%EF%BC%8E', ['/admin', '/\uff41dmin\uff0e', '/admin.']],
    ['/caf%C3%A9', ['/caf\u00e9']],
  ] as const)('%j → %j', (path, readings) => {
    expect(policyReadings(path)).toEqual(readings);
    expect(policyReadings(path)[0]).toBe(policyPath(path));
  });
});

describe('foldCase', () => {
  it.each([
    ['/ADMIN', '/admin'],
    ['/Admin/X', '/admin/x'],
    ['/admin', '/admin'],
    // Characters that upper-case to ASCII meet the ASCII letter, as in upstreams that compare upper-cased.
    ['/\u0131d', '/id'],
    ['/\u017fecret', '/secret'],
    ['/\u212aey', '/key'],
    ['/stra\u00dfe', '/strasse'],
    ['/\u00c9t\u00c9', '/\u00e9t\u00e9'],
  ] as const)('%j → %j', (s, folded) => {
    expect(foldCase(s)).toBe(folded);
  });
});
