import { describe, expect, it } from 'vitest';
import { asGroups, claimAt, mapClaims } from '../../../src/auth/oidc/claims.ts';

const mapping = { user: 'email', email: 'email', name: 'name', groups: 'groups' };

describe('claims mapping', () => {
  it('maps the configured claims', () => {
    expect(mapClaims({ sub: 's1', email: 'a@x.example', name: 'A', groups: ['g1', 'g2'] }, mapping)).toEqual({
      user: 'a@x.example',
      email: 'a@x.example',
      name: 'A',
      groups: ['g1', 'g2'],
    });
  });

  it('accepts groups as a list, a single string as one group (never split unless the IdP says so), and nothing else', () => {
    // A group named "labelers,ml-admins" must not grant ml-admins (issue 11, the SAML twin of it).
    expect(asGroups('labelers,ml-admins')).toEqual(['labelers,ml-admins']);
    expect(asGroups('a b')).toEqual(['a b']);
    expect(asGroups(['labelers,ml-admins', 'x'])).toEqual(['labelers,ml-admins', 'x']);
    expect(asGroups('a, b,,c', ',')).toEqual(['a', 'b', 'c']);
    expect(asGroups('a b  c', ' ')).toEqual(['a', 'b', 'c']);
    expect(mapClaims({ email: 'a@x.example', groups: 'labelers,ml-admins' }, mapping).groups).toEqual(['labelers,ml-admins']);
    expect(mapClaims({ email: 'a@x.example', groups: 'labelers,ml-admins' }, mapping, ',').groups).toEqual(['labelers', 'ml-admins']);
    expect(asGroups(['a', 7, null, 'b'])).toEqual(['a', '7', 'b']);
    expect(asGroups(undefined)).toBeUndefined();
    expect(asGroups({ a: 1 })).toBeUndefined();
  });

  it('follows dotted paths into nested claims (Keycloak realm roles)', () => {
    const claims = { realm_access: { roles: ['admin', 'user'] }, 'cognito:groups': ['x'] };
    expect(claimAt(claims, 'realm_access.roles')).toEqual(['admin', 'user']);
    expect(claimAt(claims, 'cognito:groups')).toEqual(['x']);
    expect(
      mapClaims(
        { preferred_username: 'bob', realm_access: { roles: ['r'] } },
        { ...mapping, user: 'preferred_username', groups: 'realm_access.roles' },
      ),
    ).toMatchObject({ user: 'bob', groups: ['r'] });
  });

  it('does not use an e-mail the IdP marks unverified, as e-mail or as user', () => {
    expect(mapClaims({ sub: 's', email: 'ceo@corp.example', email_verified: false, groups: ['g'] }, mapping)).toEqual({
      user: undefined,
      email: undefined,
      name: undefined,
      groups: ['g'],
    });
    expect(mapClaims({ sub: 's', email: 'a@corp.example', email_verified: true }, mapping).email).toBe('a@corp.example');
    expect(mapClaims({ sub: 's', email: 'a@corp.example' }, mapping).email).toBe('a@corp.example');
    expect(
      mapClaims({ preferred_username: 'bob', email: 'x@y', email_verified: false }, { ...mapping, user: 'preferred_username' }),
    ).toMatchObject({ user: 'bob', email: undefined });
  });

  it('leaves missing claims undefined instead of inventing values', () => {
    expect(mapClaims({ sub: 's' }, mapping)).toEqual({ user: undefined, email: undefined, name: undefined, groups: undefined });
    expect(mapClaims({ email: '' }, mapping).user).toBeUndefined();
  });
});
