// Sealed IdP tokens and CSRF tokens: both bound to one session key, both keyed by session.secret.
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.ts';
import { CsrfTokens } from '../../src/session/csrf.ts';
import { TokenSealer } from '../../src/session/tokens.ts';
import { record } from './store.contract.ts';

const secret = new Secret('0123456789abcdefghijklmnopqrstuvwxyzABCDEF');
const other = new Secret('another-secret-another-secret-another-secret');

describe('TokenSealer', () => {
  const tokens = { refresh_token: 'rt-very-secret-value', id_token: 'eyJhbGciOi.payload.sig' };

  it('opens what it sealed for the same session key only, under the same secret only', () => {
    const sealer = new TokenSealer(secret);
    const r = record('alice', { tokens: sealer.seal('key-1', tokens) });
    expect(r.tokens).not.toContain('rt-very-secret-value');
    expect(sealer.open('key-1', r)).toEqual(tokens);
    expect(sealer.open('key-2', r)).toBeUndefined();
    expect(new TokenSealer(other).open('key-1', r)).toBeUndefined();
    expect(sealer.open('key-1', record('alice'))).toBeUndefined();
  });
});

describe('CsrfTokens', () => {
  it('accepts a token for its own session only, under the same secret only', () => {
    const csrf = new CsrfTokens(secret);
    const t = csrf.token('key-1');
    expect(csrf.verify('key-1', t)).toBe(true);
    expect(csrf.verify('key-2', t)).toBe(false);
    expect(csrf.verify('key-1', t.slice(1))).toBe(false);
    expect(csrf.verify('key-1', '')).toBe(false);
    expect(new CsrfTokens(other).verify('key-1', t)).toBe(false);
  });
});
