// parseHost: the Host (or trusted X-Forwarded-Host) a request names, parsed strictly. Routing,
// redirects and X-Forwarded-Host are built from the answer, so every spelling that is not plainly a
// DNS name, IPv4 or bracketed IPv6 address with an optional port is refused, and what is accepted
// comes back in one canonical form.
import { describe, expect, it } from 'vitest';
import { parseHost, parseRequestHost } from '../../src/route/host.ts';

const label63 = 'a'.repeat(62) + 'z';
/** 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters: the longest DNS name. */
const name253 = [label63, label63, label63, 'b'.repeat(61)].join('.');
/** 255 characters of valid labels. */
const name255 = [label63, label63, label63, label63].join('.');

describe('parseHost: accepted, in canonical form', () => {
  it.each([
    ['app.example', 'app.example', undefined, 'app.example'],
    ['App.Example', 'app.example', undefined, 'app.example'],
    ['MLFLOW.CORP.EXAMPLE:8443', 'mlflow.corp.example', 8443, 'mlflow.corp.example:8443'],
    ['localhost', 'localhost', undefined, 'localhost'],
    ['a', 'a', undefined, 'a'],
    ['ab', 'ab', undefined, 'ab'],
    ['a-b.c_d', 'a-b.c_d', undefined, 'a-b.c_d'],
    ['_dmarc.example', '_dmarc.example', undefined, '_dmarc.example'],
    ['x_.example', 'x_.example', undefined, 'x_.example'],
    ['a--b.example', 'a--b.example', undefined, 'a--b.example'],
    ['9.example', '9.example', undefined, '9.example'],
    ['127.0.0.1', '127.0.0.1', undefined, '127.0.0.1'],
    ['127.0.0.1:4180', '127.0.0.1', 4180, '127.0.0.1:4180'],
    ['host:1', 'host', 1, 'host:1'],
    ['host:65535', 'host', 65535, 'host:65535'],
    ['host:00080', 'host', 80, 'host:80'],
    ['[::1]', '[::1]', undefined, '[::1]'],
    ['[::1]:8080', '[::1]', 8080, '[::1]:8080'],
    ['[FE80::1]:443', '[fe80::1]', 443, '[fe80::1]:443'],
    ['[2001:DB8::7]', '[2001:db8::7]', undefined, '[2001:db8::7]'],
    ['[::ffff:127.0.0.1]', '[::ffff:127.0.0.1]', undefined, '[::ffff:127.0.0.1]'],
  ] as const)('%j → host %j, port %j, authority %j', (value, host, port, authority) => {
    expect(parseHost(value)).toEqual({ ok: true, host, port, authority });
  });

  it('a 63-character label is a label, a 64-character one is not', () => {
    expect(parseHost(`${label63}.example`)).toEqual({
      ok: true,
      host: `${label63}.example`,
      port: undefined,
      authority: `${label63}.example`,
    });
    expect(parseHost(`${label63}x.example`)).toMatchObject({ ok: false, reason: expect.stringMatching(/characters/) });
  });

  it('at most 255 characters, port included', () => {
    expect(parseHost(name255)).toMatchObject({ ok: true, host: name255 });
    expect(parseHost(`${name253}:1`)).toMatchObject({ ok: true, host: name253, port: 1 });
    expect(parseHost(`${name255}:1`)).toEqual({ ok: false, reason: 'the host is empty or too long' });
    expect(parseHost(`${name253}:12`)).toEqual({ ok: false, reason: 'the host is empty or too long' });
  });
});

describe('parseHost: refused, with the reason', () => {
  it.each([
    // Empty.
    ['', /empty or too long/],
    // Empty labels: "..", leading and trailing dots.
    ['app..example', /empty label/],
    ['app.example.', /empty label/],
    ['.app.example', /empty label/],
    ['.', /empty label/],
    [':80', /empty label/],
    ['::1', /empty label/],
    // Characters a host name cannot have.
    ['user@app.example', /characters/],
    ['app%2Eexample', /characters/],
    ['app.example%00', /characters/],
    ['app example', /characters/],
    ['app.example ', /characters/],
    ['-app.example', /characters/],
    ['app-.example', /characters/],
    ['app.-x', /characters/],
    ['app.x-', /characters/],
    ['*.example', /characters/],
    ['app/x', /characters/],
    ['app\\x', /characters/],
    ['xn--bcher-kva.example\u00e9', /characters/],
    ['b\u00fccher.example', /characters/],
    ['app.example,evil.example', /characters/],
    // Ports.
    ['host:', /invalid port/],
    ['host:0', /out of range/],
    ['host:65536', /out of range/],
    ['host:99999', /out of range/],
    ['host:123456', /invalid port/],
    ['host:8a', /invalid port/],
    ['host:+80', /invalid port/],
    ['host: 80', /invalid port/],
    ['host:80:90', /invalid port/],
    ['host:-1', /invalid port/],
    // Bracketed IPv6.
    ['[::1', /unterminated/],
    ['[', /unterminated/],
    ['[zz::1]', /invalid IPv6/],
    ['[127.0.0.1]', /invalid IPv6/],
    ['[]', /invalid IPv6/],
    ['[::1]x', /junk after/],
    ['[::1]]', /junk after/],
    ['[::1]:', /invalid port/],
    ['[::1]:0', /out of range/],
    ['[::1]:65536', /out of range/],
    ['[::1]:8x', /invalid port/],
    // Node's isIPv6 takes a zone id; a Host has none (RFC 9110 §4.2.3).
    ['[fe80::1%eth0]', /invalid IPv6/],
    ['[fe80::1%25eth0]:80', /invalid IPv6/],
  ] as const)('%j: %s', (value, reason) => {
    const r = parseHost(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('the reasons are the documented ones', () => {
    expect(parseHost('')).toEqual({ ok: false, reason: 'the host is empty or too long' });
    expect(parseHost('a..b')).toEqual({ ok: false, reason: 'empty label (".." or a leading or trailing dot)' });
    expect(parseHost('a@b')).toEqual({ ok: false, reason: 'characters a host name cannot have' });
    expect(parseHost('a:x')).toEqual({ ok: false, reason: 'invalid port' });
    expect(parseHost('a:0')).toEqual({ ok: false, reason: 'port out of range' });
    expect(parseHost('[::1')).toEqual({ ok: false, reason: 'unterminated IPv6 literal' });
    expect(parseHost('[x]')).toEqual({ ok: false, reason: 'invalid IPv6 literal' });
    expect(parseHost('[::1]x')).toEqual({ ok: false, reason: 'junk after the IPv6 literal' });
  });
});

describe('parseRequestHost (the per-request, remembered parse)', () => {
  it('answers exactly as parseHost, the first time and again, for accepted and refused hosts', () => {
    const hosts = ['ML.Corp.Example:8443', '[::1]:80', '127.0.0.1', 'a@host', 'host..example', 'host:0', 'host:99999', ' host'];
    for (const h of hosts) {
      expect(parseRequestHost(h)).toEqual(parseHost(h));
      expect(parseRequestHost(h)).toEqual(parseHost(h));
    }
  });

  it('stays correct past its bound (many distinct names)', () => {
    for (let i = 0; i < 600; i++) {
      const h = `host-${i}.example:${1000 + i}`;
      expect(parseRequestHost(h)).toEqual({ ok: true, host: `host-${i}.example`, port: 1000 + i, authority: h });
    }
    expect(parseRequestHost('host-1.example:1001')).toEqual(parseHost('host-1.example:1001'));
  });
});
