// Revocation edge cases, each once a confirmed bug: the live registry stops watching a connection
// once its streamed response ends, also on keep-alive connections (watchers leaked), and a session
// created while the user's sessions are being revoked stays revocable (a race).
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { sessionConfig } from '../support/session-config.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

describe('session revocation', () => {
  it('stops watching streamed responses when they end, also on keep-alive connections', async () => {
    const up = await startUpstream((req, res) => {
      if (req.url !== '/chunked') return false;
      res.write('a');
      res.end('b');
      return true;
    });
    const gh = await startTestGatehouse(sessionConfig(up.url));
    const s = await gh.current().sessions.create({ user: 'alice', groups: [], idp: 't', method: 't' });
    for (let i = 0; i < 15; i++) {
      const r = await request(`${gh.url}/chunked`, { headers: { cookie: `gatehouse=${s.cookieValue}` } });
      expect(await r.body.text()).toBe('ab');
    }
    await expect.poll(() => gh.current().sessions.live.size()).toBe(0);
  });

  it("a session created while all of a user's sessions are revoked stays revocable", async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(sessionConfig(up.url, 'redis'));
    const sessions = gh.current().sessions;
    const alice = { user: 'alice', groups: [], idp: 't', method: 't' };
    await sessions.create(alice);
    const [, fresh] = await Promise.all([sessions.revokeUser('alice'), sessions.create(alice)]);
    expect((await sessions.list('alice')).map((x) => x.id)).toContain(fresh.key);
    await sessions.revokeUser('alice');
    expect((await sessions.lookup(fresh.cookieValue)).state).toBe('revoked');
  });
});
