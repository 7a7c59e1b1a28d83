import { describe, expect, it } from 'vitest';
import { headerValue, identityHeaders } from '../../src/identity/headers.ts';

describe('identity headers', () => {
  it('sends oauth2-proxy\'s default names with the verified values', () => {
    expect(identityHeaders({ user: 'alice@example.com', email: 'alice@example.com', name: 'Alice', groups: ['ml-admins', 'data-scientists'], idp: 'corp' })).toEqual({
      'x-forwarded-user': 'alice@example.com',
      'x-forwarded-email': 'alice@example.com',
      'x-forwarded-preferred-username': 'alice@example.com',
      'x-forwarded-name': 'Alice',
      'x-forwarded-groups': 'ml-admins,data-scientists',
    });
  });

  it('cannot be split or corrupted by IdP-supplied values', () => {
    expect(headerValue('alice\r\nX-Evil: 1')).toBe('aliceX-Evil: 1');
    expect(headerValue('Zoë Šimić')).toBe('Zo%C3%AB %C5%A0imi%C4%87');
    expect(headerValue('a\u0000b')).toBe('ab');
    const h = identityHeaders({ user: 'u', groups: ['a,b', 'c'], idp: 'x' });
    expect(h['x-forwarded-groups']).toBe('a%2Cb,c');
  });

  it('computes the headers once per identity object', () => {
    const id = { user: 'u', groups: ['g'], idp: 'x' };
    expect(identityHeaders(id)).toBe(identityHeaders(id));
  });
});
