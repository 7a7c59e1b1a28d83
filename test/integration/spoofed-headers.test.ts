// Every header in test/fixtures/spoofed-headers.txt, sent by a signed-in client on a public route,
// must not reach the upstream with the client's value; identity header names configured with
// underscores are protected in both spellings. (The same rules at unit level: test/proxy/headers.test.ts.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rawRequest } from '../support/http.ts';
import { sessionConfig } from '../support/session-config.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

const SPOOFED = readFileSync(new URL('../fixtures/spoofed-headers.txt', import.meta.url), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('client-sent headers only Gatehouse may set', () => {
  it.each(SPOOFED)('never forwards a client-sent %s header', async (name) => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(sessionConfig(up.url));
    const s = await gh.current().sessions.create({ user: 'bob', groups: ['interns'], idp: 't', method: 't' });
    const r = await rawRequest(gh.url, `GET /pub/x HTTP/1.1\r\nhost: h\r\ncookie: gatehouse=${s.cookieValue}\r\n${name}: forged-admin`);
    expect(r.status).toBe(200);
    const sent = up.seen[0]!;
    for (let i = 0; i < sent.rawHeaders.length; i += 2) {
      expect(sent.rawHeaders[i + 1], `${sent.rawHeaders[i]} reached the upstream`).not.toBe('forged-admin');
    }
  });

  it('protects identity header names written with underscores (Remote_User) in both spellings', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse({
      ...sessionConfig(up.url),
      routes: [{ name: 'pub', upstream: up.url, allow: { public: true }, identity_headers: { user: 'Remote_User' } }],
    });
    const r = await rawRequest(gh.url, 'GET /x HTTP/1.1\r\nhost: h\r\nremote_user: forged-underscore\r\nremote-user: forged-dash');
    expect(r.status).toBe(200);
    const raw = up.seen[0]!.rawHeaders;
    for (let i = 1; i < raw.length; i += 2) expect(raw[i]).not.toMatch(/^forged/);
  });
});
