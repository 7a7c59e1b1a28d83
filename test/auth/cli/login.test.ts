// The pure checks of the CLI sign-in: which redirect URIs may receive a code (RFC 8252 §7.3:
// loopback IP literals only, any port) and the PKCE S256 comparison (RFC 7636 appendix B vector).
import { describe, expect, it } from 'vitest';
import { pkceMatches } from '../../../src/auth/cli/grants.ts';
import { isLoopbackRedirect } from '../../../src/auth/cli/login.ts';

describe('isLoopbackRedirect', () => {
  it.each([
    'http://127.0.0.1:53682/callback',
    'http://127.0.0.1/callback',
    'http://127.0.0.1:1',
    'http://[::1]:8080/cb?x=1',
    'http://127.0.0.1:65535/a/b',
  ])('accepts %s', (uri) => expect(isLoopbackRedirect(uri)).toBe(true));

  it.each([
    'http://localhost:8080/callback',
    'https://127.0.0.1:8080/callback',
    'http://127.0.0.2:8080/callback',
    'http://127.1:8080/callback',
    'http://2130706433/callback',
    'http://127.0.0.1.evil.example/callback',
    'http://127.0.0.1:8080@evil.example/callback',
    'http://user@127.0.0.1:8080/callback',
    'http://127.0.0.1:65536/callback',
    'http://127.0.0.1:8080/callback#frag',
    'http://127.0.0.1:8080\\@evil.example/',
    'http://[::ffff:127.0.0.1]:8080/',
    'http://evil.example/?http://127.0.0.1:8080/',
    'javascript:alert(1)//http://127.0.0.1/',
    ' http://127.0.0.1:8080/',
    'http://127.0.0.1:8080/a b',
    '',
  ])('refuses %j', (uri) => expect(isLoopbackRedirect(uri)).toBe(false));
});

describe('pkceMatches', () => {
  it('S256 as in RFC 7636 appendix B; anything else fails', () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
    expect(pkceMatches(verifier, challenge)).toBe(true);
    expect(pkceMatches(`${verifier}x`, challenge)).toBe(false);
    expect(pkceMatches(challenge, challenge)).toBe(false);
    expect(pkceMatches('short', challenge)).toBe(false);
  });
});
