// Per-identity memo: by object, then by content, bounded.
import { describe, expect, it } from 'vitest';
import { IdentityMemo, identityContent } from '../../src/identity/memo.ts';

const alice = () => ({ user: 'alice@example.com', email: 'alice@example.com', name: 'Alice', groups: ['a', 'b'], idp: 'corp' });

describe('identity memo', () => {
  it('makes the value once for an object and once for equal content', () => {
    const memo = new IdentityMemo<{ n: number }>(10);
    let made = 0;
    const make = () => ({ n: ++made });
    const first = alice();
    const v = memo.get(first, make);
    expect(memo.get(first, make)).toBe(v);
    // A fresh copy read again from the store: the same work, not made again.
    expect(memo.get(alice(), make)).toBe(v);
    expect(made).toBe(1);
  });

  it('tells apart identities that differ in any field the headers or assertion read', () => {
    const base = alice();
    const variants = [
      { ...base, user: 'bob@example.com' },
      { ...base, email: undefined },
      { ...base, name: 'Alice B' },
      { ...base, idp: 'other' },
      { ...base, groups: ['a'] },
      { ...base, groups: ['a,b'] },
      { ...base, groups: ['b', 'a'] },
    ];
    const keys = new Set([base, ...variants].map(identityContent));
    expect(keys.size).toBe(variants.length + 1);
    const memo = new IdentityMemo<object>(100);
    const values = new Set([base, ...variants].map((id) => memo.get(id, () => ({}))));
    expect(values.size).toBe(variants.length + 1);
  });

  it('forgets the least recently used content beyond its bound', () => {
    const memo = new IdentityMemo<{ user: string }>(3);
    const make = (id: { user: string }) => ({ user: id.user });
    const users = ['u1', 'u2', 'u3', 'u4'].map((user) => ({ user, groups: [] as string[], idp: 'corp' }));
    const v1 = memo.get({ ...users[0]! }, make);
    memo.get({ ...users[1]! }, make);
    const v3 = memo.get({ ...users[2]! }, make);
    // u1 used again (a fresh copy), so u2 is now the oldest and goes when u4 arrives.
    expect(memo.get({ ...users[0]! }, make)).toBe(v1);
    memo.get({ ...users[3]! }, make);
    expect(memo.size).toBe(3);
    let remade = 0;
    memo.get({ ...users[1]! }, (id) => {
      remade++;
      return make(id);
    });
    expect(remade).toBe(1);
    // u2 coming back pushed out u3, the oldest then; u1 stays.
    expect(memo.get({ ...users[0]! }, make)).toBe(v1);
    expect(memo.get({ ...users[2]! }, make)).not.toBe(v3);
  });
});
