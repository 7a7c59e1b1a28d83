// Every directory change is an audit record (iam): the account as target, the IdP's client as
// the credential; offboarding adds a session_revoked record per ended session.
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AuthEventInput } from '../../src/audit/events.ts';
import { compileConfig } from '../../src/config/compile.ts';
import { silentLogger } from '../../src/log.ts';
import { buildRuntime } from '../../src/runtime.ts';

describe('directory changes are audited', () => {
  it('user and group changes become iam records with the SCIM client as actor', async () => {
    const { config } = compileConfig({
      server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180' },
      admin: { listen: '127.0.0.1:0' },
      audit: { sinks: [] },
      scim: { token: 'scim-token-for-audit-tests-8e2c4b6a1d3f' },
      routes: [{ name: 'r', upstream: 'http://127.0.0.1:9', allow: { public: true } }],
    });
    const events: AuthEventInput[] = [];
    const rt = await buildRuntime(config, silentLogger, { onAuthEvent: (e) => events.push(e) });
    onTestFinished(() => rt.close());
    const { user } = await rt.directory.upsertUser({ user: 'gil@corp.example', userName: 'gil@corp.example', active: true }, 'scim:okta');
    await rt.sessions.create({ user: 'gil@corp.example', groups: [], idp: 'corp', method: 'test' });
    const { group } = await rt.directory.upsertGroup({ displayName: 'ml-admins', members: [user.id] }, 'scim:okta');
    await rt.directory.upsertGroup({ displayName: 'ml-admins', members: [] }, 'scim:okta', group.id);
    await rt.directory.setActive('gil@corp.example', false, 'scim:okta');
    await rt.offboarding.offboardUser('gil@corp.example', { reason: 'scim_deactivated', actor: 'scim:okta' });
    expect(events.map((e) => [e.action, e.targetUser, e.group, e.credential, e.reason])).toEqual([
      ['user_created', 'gil@corp.example', undefined, 'scim:okta', 'scim'],
      ['group_created', undefined, 'ml-admins', 'scim:okta', 'scim'],
      ['group_member_added', 'gil@corp.example', 'ml-admins', 'scim:okta', 'scim'],
      ['group_updated', undefined, 'ml-admins', 'scim:okta', 'scim'],
      ['group_member_removed', 'gil@corp.example', 'ml-admins', 'scim:okta', 'scim'],
      ['user_deactivated', 'gil@corp.example', undefined, 'scim:okta', 'scim'],
      ['session_revoked', 'gil@corp.example', undefined, 'scim:okta', 'scim_deactivated'],
    ]);
  });
});
