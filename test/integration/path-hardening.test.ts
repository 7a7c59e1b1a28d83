// Paths that once hurt: a long segment must normalise in linear time (a nested-quantifier regex
// took minutes), and dot segments hidden behind path parameters ("..;", which Tomcat-style
// upstreams strip) are refused before anything reaches the upstream.
import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/uri/normalize.ts';
import { rawRequest } from '../support/http.ts';
import { sessionConfig } from '../support/session-config.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

describe('paths', () => {
  it('normalises long segments in linear time (no catastrophic regex backtracking)', () => {
    // With the old nested-quantifier pattern this took minutes (each extra character doubled it).
    for (const tail of ['%20', '"', '//x', '{']) {
      const r = normalizePath(`/pub/${'a'.repeat(5000)}${tail}`);
      expect(r.ok).toBe(true);
    }
  });

  it('refuses dot segments hidden behind path parameters ("..;")', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(sessionConfig(up.url));
    for (const p of ['/pub/..;/admin', '/pub/.;/x', '/pub/..;jsessionid=1/admin']) {
      const r = await rawRequest(gh.url, `GET ${p} HTTP/1.1\r\nhost: h\r\naccept: application/json`);
      expect(r.status, p).toBe(400);
    }
    expect(up.seen).toHaveLength(0);
  });
});
