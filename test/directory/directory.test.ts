// The directory against both backends (memory, real Redis), and two directories on one Redis
// prefix as two replicas: a change on one is seen by the other's per-request cache at once.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createDirectory, DirectoryConflict, type DirectoryChange, type UserFields } from '../../src/directory/directory.ts';
import { createMemoryKv, createRedisKv } from '../../src/directory/kv.ts';
import { uniquePrefix, redisConfig } from '../support/redis.ts';

async function open(kind: 'memory' | 'redis', prefix = uniquePrefix(), cacheTtlMs = 60_000) {
  const changes: DirectoryChange[] = [];
  const dir = createDirectory({
    kv: kind === 'memory' ? createMemoryKv() : createRedisKv(redisConfig(prefix)),
    onChange: (c) => changes.push(c),
    cacheTtlMs,
  });
  onTestFinished(() => dir.close());
  await dir.listening();
  return { dir, changes };
}

const alice: UserFields = {
  user: 'alice@example.com',
  userName: 'alice@example.com',
  externalId: 'ext-alice',
  active: true,
  emails: [{ value: 'alice@example.com', primary: true }],
};

describe.each(['memory', 'redis'] as const)('directory (%s)', (kind) => {
  it('creates, finds, replaces and deletes users; indexes follow', async () => {
    const { dir, changes } = await open(kind);
    const { user, created } = await dir.upsertUser(alice, 'scim');
    expect(created).toBe(true);
    expect(await dir.getUser('ALICE@example.com')).toEqual(user);
    expect(await dir.findUsers({ attr: 'userName', value: 'Alice@Example.com' })).toEqual([user]);
    expect(await dir.findUsers({ attr: 'externalId', value: 'ext-alice' })).toEqual([user]);
    await expect(dir.upsertUser({ ...alice, externalId: 'other' }, 'scim')).rejects.toBeInstanceOf(DirectoryConflict);
    const renamed = await dir.upsertUser({ ...alice, user: 'al@example.com', userName: 'al@example.com' }, 'scim', user.id);
    expect(renamed.created).toBe(false);
    expect(await dir.getUser('alice@example.com')).toBeUndefined();
    expect((await dir.getUser('al@example.com'))?.version).toBe(2);
    expect(await dir.deleteUser(user.id, 'scim')).toBeDefined();
    expect(await dir.findUsers()).toEqual([]);
    expect(changes.map((c) => c.kind)).toEqual(['user_created', 'user_updated', 'user_deleted']);
  });

  it('groups: membership, groupsOf, rename and delete; state follows', async () => {
    const { dir, changes } = await open(kind);
    const { user } = await dir.upsertUser(alice, 'scim');
    expect(await dir.state(alice.user)).toEqual({ known: true, id: user.id, active: true, groups: [] });
    const { group } = await dir.upsertGroup({ displayName: 'ml-admins', members: [user.id, 'nobody'] }, 'scim');
    expect(group.members).toEqual([user.id]);
    expect(await dir.groupsOf(alice.user)).toEqual(['ml-admins']);
    expect((await dir.state(alice.user)).known && (await dir.state(alice.user))).toMatchObject({ groups: ['ml-admins'] });
    await dir.upsertGroup({ displayName: 'ml-ops', members: [user.id] }, 'scim', group.id);
    expect(await dir.groupsOf(alice.user)).toEqual(['ml-ops']);
    await dir.upsertGroup({ displayName: 'ml-ops', members: [] }, 'scim', group.id);
    expect(await dir.state(alice.user)).toMatchObject({ groups: [] });
    expect(changes.filter((c) => c.kind === 'group_membership_changed')).toEqual([
      { kind: 'group_membership_changed', actor: 'scim', group: 'ml-admins', added: [alice.user], removed: [] },
      { kind: 'group_membership_changed', actor: 'scim', group: 'ml-ops', added: [], removed: [alice.user] },
    ]);
    await dir.deleteGroup(group.id, 'scim');
    expect(await dir.findGroups()).toEqual([]);
    expect(await dir.groupsOf('unknown@example.com')).toBeUndefined();
  });

  it('setActive: deactivates (a stub for a user SCIM never sent), reactivates; create takes the stub over', async () => {
    const { dir, changes } = await open(kind);
    const stub = await dir.setActive('bob@example.com', false, 'ssf:https://idp');
    expect(stub).toMatchObject({ active: false, source: 'signal' });
    expect(await dir.state('bob@example.com')).toMatchObject({ known: true, active: false });
    expect(await dir.setActive('carol@example.com', true, 'x')).toBeUndefined();
    const { user, created } = await dir.upsertUser({ user: 'bob@example.com', userName: 'bob@example.com', active: true }, 'scim');
    expect(created).toBe(true);
    expect(user.id).toBe(stub!.id);
    expect(await dir.state('bob@example.com')).toMatchObject({ active: true });
    expect(changes.map((c) => c.kind)).toEqual(['user_deactivated', 'user_created', 'user_reactivated']);
  });
});

describe('directory: two replicas on one Redis', () => {
  it("a change on one is seen by the other's cache at once (pub/sub), not after the cache's lifetime", async () => {
    const prefix = uniquePrefix();
    const a = (await open('redis', prefix)).dir;
    const b = (await open('redis', prefix)).dir;
    await Promise.all([a.listening(), b.listening()]);
    const { user } = await a.upsertUser(alice, 'scim');
    expect(await b.state(alice.user)).toMatchObject({ known: true, active: true, groups: [] });
    await a.upsertGroup({ displayName: 'ml-admins', members: [user.id] }, 'scim');
    // b cached the state for 60 s: only the notification can make it see the group.
    await expect.poll(() => b.state(alice.user), { timeout: 10_000 }).toMatchObject({ groups: ['ml-admins'] });
    await a.setActive(alice.user, false, 'scim');
    await expect.poll(() => b.state(alice.user), { timeout: 10_000 }).toMatchObject({ active: false });
  });
});
