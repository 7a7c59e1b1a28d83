// The session cookie at the edges: an upstream cannot set a Gatehouse cookie through Set-Cookie,
// and a cookie with non-ASCII bytes is an invalid cookie (401), not a server error.
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { rawRequest } from '../support/http.ts';
import { sessionConfig } from '../support/session-config.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

describe('session cookie at the edges', () => {
  it('drops Set-Cookie headers from the upstream that would set Gatehouse cookies', async () => {
    const up = await startUpstream((req, res) => {
      if (req.url !== '/pub/plant') return false;
      res.setHeader('set-cookie', ['gatehouse=attacker; Path=/', 'gatehouse-login=x; Path=/', 'app=1; Path=/']);
      res.end('ok');
      return true;
    });
    const gh = await startTestGatehouse(sessionConfig(up.url));
    const r = await request(`${gh.url}/pub/plant`);
    await r.body.text();
    expect([r.headers['set-cookie']].flat()).toEqual(['app=1; Path=/']);
  });

  it('treats a cookie with non-ASCII bytes as invalid, not as a server error', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(sessionConfig(up.url));
    const mac = '\u00e9'.repeat(22);
    const r = await rawRequest(
      gh.url,
      `GET /x HTTP/1.1\r\nhost: h\r\naccept: application/json\r\ncookie: gatehouse=${'A'.repeat(43)}.${mac}`,
    );
    expect(r.status).toBe(401);
  });
});
