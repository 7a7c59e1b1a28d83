// Issue 14: the facts a record states come from what happened, end to end: a real Gatehouse, the
// real demo IdP publishing the key bearer tokens are signed with, a real upstream, the audit file.
// Refused tokens and sign-ins carry a stable reason code (and the attempted user when a verified
// claim names one); a request is allowed only when it was forwarded; a bearer caller has its
// subject and credential kind; every record names the config in force and a rule its stable id.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { parseRecords, readNdjson, type AuditRecord } from '../support/audit.ts';
import { idpSigningKey, startOidcSetup } from '../support/oidc.ts';
import { startUpstream } from '../support/upstream.ts';

describe('audit records state the facts (issue 14)', () => {
  it('reason codes, attempted users, proxied, subject, credential kind, rule id and config hash', async () => {
    const up = await startUpstream();
    const key = await idpSigningKey();
    const auditFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-facts-')), 'audit.ndjson');
    const { gh, idp } = await startOidcSetup(up.url, {
      provider: { bearer_audiences: ['ml-api'] },
      idp: { jwks: key.jwks },
      audit: { sinks: [{ type: 'file', path: auditFile }] },
      routes: [
        {
          name: 'app',
          path: '/',
          upstream: up.url,
          allow: { authenticated: true },
          rules: [{ path: '/admin', allow: { groups: ['ml-admins'] } }],
        },
      ],
    });
    const now = Math.floor(Date.now() / 1000);
    const token = (claims: { aud?: string; exp?: number; signWith?: CryptoKey } = {}) =>
      new SignJWT({ email: 'svc-1@example.com', groups: ['readers'] })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
        .setIssuer(idp.issuer)
        .setAudience(claims.aud ?? 'ml-api')
        .setSubject('svc-1')
        .setIssuedAt(now - 7200)
        .setExpirationTime(claims.exp ?? now + 300)
        .sign(claims.signWith ?? key.privateKey);
    const get = async (path: string, bearer?: string) => {
      const r = await request(`${gh.url}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
      await r.body.dump();
      return r.statusCode;
    };
    const other = await generateKeyPair('RS256');

    expect(await get('/ok', await token())).toBe(200);
    expect(await get('/admin/x', await token())).toBe(403);
    expect(await get('/expired', await token({ exp: now - 3600 }))).toBe(401);
    expect(await get('/aud', await token({ aud: 'another-app' }))).toBe(401);
    expect(await get('/sig', await token({ signWith: other.privateKey }))).toBe(401);
    expect(await get('/opaque', 'not-a-jwt-at-all')).toBe(401);
    expect(await get('/.gatehouse/oidc/corp/callback?code=abc&state=forged-state')).toBe(400);
    expect(await get('/.gatehouse/oidc/corp/callback?code=abc')).toBe(400);

    const all = (): AuditRecord[] => parseRecords(readNdjson(auditFile));
    const byPath = (path: string) => all().find((r) => r.event?.action === 'http_request' && r.url?.path === path);
    const refusals = () => all().filter((r) => r.event?.action === 'bearer_rejected' || r.event?.action === 'login_failed');
    await expect.poll(() => refusals().length, { timeout: 5000 }).toBe(6);
    await expect.poll(() => byPath('/.gatehouse/oidc/corp/callback') !== undefined, { timeout: 5000 }).toBe(true);

    // Refusals: action, reason code, IdP, attempted user (only from a verified signature).
    expect(refusals().map((r) => [r.event.action, r.gatehouse.reason, r.gatehouse.idp, r.user?.name])).toEqual([
      ['bearer_rejected', 'expired', 'corp', 'svc-1'],
      ['bearer_rejected', 'audience_mismatch', 'corp', 'svc-1'],
      ['bearer_rejected', 'signature_invalid', 'corp', undefined],
      ['bearer_rejected', 'not_jwt', undefined, undefined],
      ['login_failed', 'unknown_state', 'corp', undefined],
      ['login_failed', 'no_state', 'corp', undefined],
    ]);

    // A forwarded request is allowed; a rule's 403 was not forwarded, and names the rule by its id.
    const ok = byPath('/ok')!;
    expect(ok.event.type).toEqual(['access', 'allowed']);
    expect([ok.user.id, ok.user.name, ok.gatehouse.credential_kind]).toEqual(['svc-1', 'svc-1@example.com', 'bearer_jwt']);
    const denied = byPath('/admin/x')!;
    expect(denied.event.type).toEqual(['access', 'denied']);
    const rule = gh.current().config.routes[0]!.rules[0]!;
    expect(denied.gatehouse.rule).toBe(rule.id);
    expect(rule.id).toMatch(/^app\/[0-9a-f]{12}$/);
    expect(byPath('/expired')!.event.type).toEqual(['access', 'denied']);

    // Every record names the config in force.
    const hash = gh.current().config.hash;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    for (const r of all()) expect(r.gatehouse.config?.hash, r.event.action).toBe(hash);
  });
});
