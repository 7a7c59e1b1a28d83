// The OIDC callback's decisions that need no network (src/auth/oidc/callback-checks.ts): which
// pending sign-in an answer belongs to, when UserInfo is asked, and how it completes the ID token.
import { describe, expect, it } from 'vitest';
import { checkCallbackState, mergeUserinfo, wantsUserinfo } from '../../../src/auth/oidc/callback-checks.ts';
import type { MappedIdentity } from '../../../src/auth/oidc/claims.ts';
import type { PendingLogin, TakeResult } from '../../../src/auth/login-state.ts';

const login: PendingLogin = {
  idp: 'corp',
  returnUrl: '/app',
  redirectUri: 'https://gh.example/.gatehouse/oidc/corp/callback',
  nonce: 'n',
  codeVerifier: 'v',
  binding: 'b',
  createdAt: 0,
};
const took = (l: PendingLogin = login): TakeResult => ({ ok: true, login: l, othersPending: false });

describe('checkCallbackState', () => {
  it.each<[string, string | null, TakeResult | undefined, RegExp | undefined]>([
    ['the sign-in this browser started, with this IdP', 'state', took(), undefined],
    ['no state in the answer', null, undefined, /has no state/],
    ['an empty state', '', undefined, /has no state/],
    [
      'a state nobody started, or one already used',
      'state',
      { ok: false, reason: 'unknown-state' },
      /unknown, expired or was already used/,
    ],
    ['a sign-in started in another browser (login CSRF)', 'state', { ok: false, reason: 'other-browser' }, /started in another browser/],
    ['a sign-in started with another IdP (mix-up)', 'state', took({ ...login, idp: 'other' }), /wrong identity provider/],
  ])('%s', (_name, state, taken, refused) => {
    const result = checkCallbackState(state, taken, 'corp');
    if (refused) expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(refused) });
    else expect(result).toEqual({ ok: true, state: 'state', login });
  });
});

const mapped = (o: Partial<MappedIdentity> = {}): MappedIdentity => ({
  user: 'alice',
  email: undefined,
  name: undefined,
  groups: undefined,
  ...o,
});

describe('wantsUserinfo', () => {
  it.each<[string, 'auto' | 'always' | 'never', MappedIdentity, boolean, boolean]>([
    ['always, whatever the ID token says', 'always', mapped({ groups: ['a'] }), false, true],
    ['never', 'never', mapped(), true, false],
    ['auto: the ID token has no groups and the IdP has the endpoint', 'auto', mapped(), true, true],
    ['auto: the ID token has groups (even none)', 'auto', mapped({ groups: [] }), true, false],
    ['auto: no UserInfo endpoint', 'auto', mapped(), false, false],
  ])('%s', (_name, mode, fromIdToken, hasEndpoint, expected) => {
    expect(wantsUserinfo(mode, fromIdToken, hasEndpoint)).toBe(expected);
  });
});

describe('mergeUserinfo', () => {
  const config = { claims: { user: 'email', email: 'email', name: 'name', groups: 'groups' }, splitGroupValuesOn: undefined } as never;
  it('the ID token wins; UserInfo fills only what it leaves out', () => {
    expect(
      mergeUserinfo(mapped({ user: 'alice@id', email: 'alice@id' }), { email: 'mallory@info', name: 'Alice', groups: ['ml'] }, config),
    ).toEqual({ user: 'alice@id', email: 'alice@id', name: 'Alice', groups: ['ml'] });
  });
  it('a user named only by UserInfo', () => {
    expect(mergeUserinfo(mapped({ user: undefined }), { email: 'alice@info' }, config)).toMatchObject({
      user: 'alice@info',
      email: 'alice@info',
      groups: undefined,
    });
  });
  it('groups from the ID token, even an empty list, are not replaced', () => {
    expect(mergeUserinfo(mapped({ groups: [] }), { groups: ['ml-admins'] }, config).groups).toEqual([]);
  });
  it('one group string from UserInfo is one group (never split)', () => {
    expect(mergeUserinfo(mapped(), { groups: 'labelers,ml-admins' }, config).groups).toEqual(['labelers,ml-admins']);
  });
});
