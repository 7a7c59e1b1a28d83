// SCIM request shapes as Okta and Entra ID send them, read by the parts of the service provider:
// filters, PATCH operations (capitalised ops, string booleans, no-path values, filtered paths,
// member removal by value array), user mapping by scim.user_key.
import { describe, expect, it } from 'vitest';
import { pageOf, parseFilter, ScimError } from '../../../src/directory/scim/protocol.ts';
import { applyPatch, groupFields, userFields } from '../../../src/directory/scim/resources.ts';

const scimType = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof ScimError ? `${err.status} ${err.scimType}` : String(err);
  }
  return 'no error';
};

describe('filters', () => {
  it('reads eq clauses joined with and; attribute names case-insensitive, core URN prefix allowed', () => {
    expect(parseFilter('userName eq "a@b.c"', ['username'])).toEqual([{ attr: 'username', value: 'a@b.c' }]);
    expect(parseFilter('UserName Eq "x \\" and y"', ['username'])).toEqual([{ attr: 'username', value: 'x " and y' }]);
    expect(parseFilter('id eq "g1" and members eq "u1"', ['id', 'members'])).toEqual([
      { attr: 'id', value: 'g1' },
      { attr: 'members', value: 'u1' },
    ]);
    expect(parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', ['username'])).toEqual([
      { attr: 'username', value: 'x' },
    ]);
  });
  it('refuses other operators, unknown attributes and broken strings with 400 invalidFilter', () => {
    for (const f of ['userName co "x"', 'title eq "x"', 'userName eq "x', 'userName eq "x" or id eq "y"', '', 'userName pr'])
      expect(
        scimType(() => parseFilter(f, ['username', 'id'])),
        f,
      ).toBe('400 invalidFilter');
  });
  it('clamps startIndex and count', () => {
    expect(pageOf(new URLSearchParams('startIndex=0&count=-4'))).toEqual({ startIndex: 1, count: 0 });
    expect(pageOf(new URLSearchParams('count=99999'))).toEqual({ startIndex: 1, count: 1000 });
    expect(scimType(() => pageOf(new URLSearchParams('count=ten')))).toBe('400 invalidValue');
  });
});

const user = {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  id: 'u1',
  userName: 'Alice@Corp.example',
  emails: [{ value: 'alice@corp.example', type: 'work', primary: true }],
  name: { givenName: 'Alice', familyName: 'A' },
  active: true,
};
const patch = (...Operations: object[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations });

describe('PATCH', () => {
  it('Entra: Replace with a string boolean, filtered multi-valued paths, sub-attributes', () => {
    const out = applyPatch(
      user,
      patch(
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'new@corp.example' },
        { op: 'Replace', path: 'name.familyName', value: 'B' },
        { op: 'Add', path: 'emails[type eq "home"].value', value: 'home@x.example' },
        { op: 'Replace', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'ML' },
      ),
    );
    const fields = userFields(out, 'email');
    expect(fields).toMatchObject({ active: false, user: 'new@corp.example', name: { givenName: 'Alice', familyName: 'B' } });
    expect(fields.emails).toEqual([
      { value: 'new@corp.example', type: 'work', primary: true },
      { value: 'home@x.example', type: 'home' },
    ]);
  });
  it('Okta: no-path replace with an object value; lower-case ops', () => {
    expect(userFields(applyPatch(user, patch({ op: 'replace', value: { active: false } })), 'email').active).toBe(false);
    expect(
      userFields(applyPatch(user, patch({ op: 'replace', value: { 'name.givenName': 'Al', active: 'True' } })), 'email'),
    ).toMatchObject({
      active: true,
      name: { givenName: 'Al' },
    });
  });
  it('groups: add appends (no duplicates), remove by filter, remove by value array (Entra)', () => {
    const g = { displayName: 'ml-admins', members: [{ value: 'u1' }] };
    const added = applyPatch(g, patch({ op: 'Add', path: 'members', value: [{ value: 'u1' }, { value: 'u2', $ref: null }] }));
    expect(groupFields(added).members).toEqual(['u1', 'u2']);
    expect(groupFields(applyPatch(added, patch({ op: 'remove', path: 'members[value eq "u1"]' }))).members).toEqual(['u2']);
    expect(groupFields(applyPatch(added, patch({ op: 'Remove', path: 'members', value: [{ value: 'u2' }] }))).members).toEqual(['u1']);
    expect(groupFields(applyPatch(added, patch({ op: 'remove', path: 'members' }))).members).toEqual([]);
    expect(groupFields(applyPatch(g, patch({ op: 'Replace', path: 'displayName', value: 'ml-ops' }))).displayName).toBe('ml-ops');
  });
  it('refuses what it cannot apply with the RFC 7644 scimType', () => {
    expect(scimType(() => applyPatch(user, { Operations: [] }))).toBe('400 invalidSyntax');
    expect(scimType(() => applyPatch(user, patch({ op: 'move', path: 'active' })))).toBe('400 invalidSyntax');
    expect(scimType(() => applyPatch(user, patch({ op: 'remove' })))).toBe('400 noTarget');
    expect(scimType(() => applyPatch(user, patch({ op: 'replace', path: 'emails[type ne "x"]', value: 1 })))).toBe('400 invalidPath');
    expect(scimType(() => userFields(applyPatch(user, patch({ op: 'replace', path: 'active', value: 'maybe' })), 'email'))).toBe(
      '400 invalidValue',
    );
  });
});

describe('user mapping (scim.user_key)', () => {
  it('email: the primary e-mail, else userName; userName; externalId (required then)', () => {
    expect(userFields(user, 'email').user).toBe('alice@corp.example');
    expect(userFields({ userName: 'bob@corp.example' }, 'email').user).toBe('bob@corp.example');
    expect(userFields(user, 'userName').user).toBe('Alice@Corp.example');
    expect(userFields({ ...user, externalId: '00u1' }, 'externalId').user).toBe('00u1');
    expect(scimType(() => userFields(user, 'externalId'))).toBe('400 invalidValue');
    expect(scimType(() => userFields({ emails: [] }, 'email'))).toBe('400 invalidValue');
  });
  it('never keeps a password', () => {
    expect(JSON.stringify(userFields({ ...user, password: '1mz050nq' }, 'email'))).not.toContain('1mz050nq');
  });
});
