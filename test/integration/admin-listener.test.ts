// The admin listener survives requests it has no use for: an absolute-form target (which once
// crashed it) gets 400, and /healthz still answers afterwards.
import { describe, expect, it } from 'vitest';
import { getJson, rawRequest } from '../support/http.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';

describe('admin listener', () => {
  it('answers 400 to an absolute-form request on the admin listener and stays up', async () => {
    const gh = await startTestGatehouse(baseConfig());
    const r = await rawRequest(gh.adminUrl, 'GET http://a:b/ HTTP/1.1\r\nhost: a');
    expect(r.status).toBe(400);
    expect((await getJson(`${gh.adminUrl}/healthz`)).status).toBe(200);
  });
});
