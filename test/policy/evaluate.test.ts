import { describe, expect, it } from 'vitest';
import type { RawAllow } from '../../src/config/schema.ts';
import { evaluate, type Identity, type Reason } from '../../src/policy/evaluate.ts';

function who(over: Partial<Identity> = {}): Identity {
  return { user: 'alice', email: 'alice@corp.example', groups: ['ml', 'staff'], idp: 'test-idp', ...over };
}

const alice = who();
const bob = who({ user: 'bob', email: 'bob@partner.example', groups: ['contractors'] });
const noEmail = who({ user: 'svc', email: undefined, groups: [] });

type Case = readonly [label: string, allow: RawAllow | undefined, identity: Identity | undefined, allowed: boolean, reason: Reason];

const cases: readonly Case[] = [
  // public
  ['public route, anonymous', { public: true }, undefined, true, 'public-route'],
  ['public route, signed in', { public: true }, alice, true, 'public-route'],
  ['public wins over other rules', { public: true, groups: ['nobody'] }, bob, true, 'public-route'],
  ['public: false is not public', { public: false }, undefined, false, 'user-unauthenticated'],

  // no identity
  ['authenticated route, anonymous', { authenticated: true }, undefined, false, 'user-unauthenticated'],
  ['group route, anonymous', { groups: ['ml'] }, undefined, false, 'user-unauthenticated'],
  ['no allow, anonymous (ask to sign in first)', undefined, undefined, false, 'user-unauthenticated'],

  // no allow block
  ['no allow, signed in', undefined, alice, false, 'no-allow-default-deny'],

  // authenticated
  ['authenticated, signed in', { authenticated: true }, bob, true, 'authenticated-ok'],
  ['authenticated: false alone', { authenticated: false }, alice, false, 'not-allowed'],
  ['empty allow block', {}, alice, false, 'not-allowed'],

  // users
  ['user listed', { users: ['carol', 'alice'] }, alice, true, 'users-ok'],
  ['user not listed', { users: ['carol'] }, alice, false, 'not-allowed'],
  ['users compare exactly (case-sensitive)', { users: ['Alice'] }, alice, false, 'not-allowed'],

  // emails
  ['email listed', { emails: ['alice@corp.example'] }, alice, true, 'emails-ok'],
  ['email listed in other case', { emails: ['Alice@CORP.Example'] }, alice, true, 'emails-ok'],
  ['identity email in other case', { emails: ['alice@corp.example'] }, who({ email: 'ALICE@Corp.Example' }), true, 'emails-ok'],
  ['email not listed', { emails: ['carol@corp.example'] }, alice, false, 'not-allowed'],
  ['emails rule, identity without email', { emails: ['svc@corp.example'] }, noEmail, false, 'not-allowed'],

  // email domains
  ['email domain listed', { email_domains: ['corp.example'] }, alice, true, 'email-domain-ok'],
  ['email domain in other case', { email_domains: ['CORP.EXAMPLE'] }, who({ email: 'alice@Corp.Example' }), true, 'email-domain-ok'],
  ['email domain not listed', { email_domains: ['corp.example'] }, bob, false, 'not-allowed'],
  ['subdomain does not match the parent domain', { email_domains: ['corp.example'] }, who({ email: 'x@eu.corp.example' }), false, 'not-allowed'],
  ['parent domain does not match a subdomain rule', { email_domains: ['eu.corp.example'] }, alice, false, 'not-allowed'],
  ['look-alike domain does not match', { email_domains: ['corp.example'] }, who({ email: 'x@evilcorp.example' }), false, 'not-allowed'],
  ['email domains rule, identity without email', { email_domains: ['corp.example'] }, noEmail, false, 'not-allowed'],

  // groups
  ['group: any of the listed groups', { groups: ['admins', 'ml'] }, alice, true, 'groups-ok'],
  ['group: second of the identity groups', { groups: ['staff'] }, alice, true, 'groups-ok'],
  ['group: none in common', { groups: ['admins'] }, alice, false, 'not-allowed'],
  ['group: identity without groups', { groups: ['ml'] }, noEmail, false, 'not-allowed'],
  ['group: names compare exactly', { groups: ['ML'] }, alice, false, 'not-allowed'],
  ['group: empty list', { groups: [] }, alice, false, 'not-allowed'],

  // combinations
  ['users, emails, domains and groups all miss', { users: ['x'], emails: ['x@x.example'], email_domains: ['x.example'], groups: ['x'] }, alice, false, 'not-allowed'],
  ['any one rule is enough (groups)', { users: ['x'], emails: ['x@x.example'], groups: ['ml'] }, alice, true, 'groups-ok'],
  ['authenticated reported before users', { authenticated: true, users: ['alice'] }, alice, true, 'authenticated-ok'],
  ['users reported before emails', { users: ['alice'], emails: ['alice@corp.example'] }, alice, true, 'users-ok'],
  ['emails reported before email domains', { emails: ['alice@corp.example'], email_domains: ['corp.example'] }, alice, true, 'emails-ok'],
  ['email domains reported before groups', { email_domains: ['corp.example'], groups: ['ml'] }, alice, true, 'email-domain-ok'],
];

describe('evaluate(allow, identity)', () => {
  it.each(cases)('%s', (_label, allow, identity, allowed, reason) => {
    expect(evaluate(allow, identity)).toEqual({ allow: allowed, reason });
  });

  it('does not mutate its inputs', () => {
    const allow = Object.freeze({ groups: Object.freeze(['ml']) as string[] });
    const identity = Object.freeze(who());
    expect(evaluate(allow, identity)).toEqual({ allow: true, reason: 'groups-ok' });
  });

  it('every decision denies unless allow is true', () => {
    for (const [, allow, identity] of cases) {
      const d = evaluate(allow, identity);
      expect(d.reason.endsWith('-ok') || d.reason === 'public-route').toBe(d.allow);
    }
  });
});
