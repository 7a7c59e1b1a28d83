// endpointOf (src/auth/provider.ts): /.gatehouse/<kind>/<id>/<action> reaches only the actions a
// provider lists — never an inherited property named by the URL.
import { describe, expect, it } from 'vitest';
import { endpointOf, type IdentityProvider } from '../../src/auth/provider.ts';

const acs = async () => {};
const provider = { id: 'corp', displayName: 'Corp', kind: 'saml', endpoints: { acs } } as unknown as IdentityProvider;

describe('endpointOf', () => {
  it.each<[string, boolean]>([
    ['acs', true],
    ['ACS', false],
    ['slo', false],
    ['', false],
    ['constructor', false],
    ['__proto__', false],
    ['toString', false],
    ['hasOwnProperty', false],
  ])('%s → %s', (action, found) => {
    expect(endpointOf(provider, action)).toBe(found ? acs : undefined);
  });
});
