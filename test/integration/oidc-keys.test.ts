// Keys on both sides of OIDC: the IdP rotating its signing key (a new kid makes Gatehouse fetch
// the JWKS again), and Gatehouse authenticating with private_key_jwt.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startDemoIdp } from '../../src/demo/idp.ts';
import { TestBrowser } from '../support/browser-http.ts';
import { CLIENT_ID, CLIENT_SECRET, idpSigningKey, USERS } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

function ghConfig(port: number, issuer: string, upstream: string, provider: object = {}) {
  return {
    log_level: 'silent',
    server: { listen: `127.0.0.1:${port}`, public_url: `http://127.0.0.1:${port}` },
    admin: { listen: '127.0.0.1:0' },
    session: { secret: 'oidc-keys-session-secret-0123456789abcdef', cookie: { secure: false } },
    identity_providers: [{ id: 'corp', type: 'oidc', issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, ...provider }],
    routes: [{ name: 'app', upstream, allow: { authenticated: true } }],
  };
}

describe('OIDC keys', () => {
  it('accepts ID tokens signed with a rotated IdP key (one JWKS refetch)', async () => {
    const up = await startUpstream();
    const [idpPort, ghPort] = await Promise.all([freePort(), freePort()]);
    const client = {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`http://127.0.0.1:${ghPort}/.gatehouse/oidc/corp/callback`],
    };
    const first = await idpSigningKey();
    let idp = await startDemoIdp({ port: idpPort, clients: [client], jwks: first.jwks });
    onTestFinished(() => idp.close());
    const gh = await startTestGatehouse(ghConfig(ghPort, idp.issuer, up.url));
    await gh.current().providers.oidc.get('corp')!.ready();
    expect((await new TestBrowser().go(`${gh.url}/`, USERS.alice)).status).toBe(200);

    // The IdP restarts with a new signing key (new kid) on the same issuer.
    await idp.close();
    const second = await idpSigningKey();
    expect(second.kid).not.toBe(first.kid);
    idp = await startDemoIdp({ port: idpPort, clients: [client], jwks: second.jwks });
    const browser = new TestBrowser();
    const page = await browser.go(`${gh.url}/`, USERS.bob);
    expect(page.status, page.body).toBe(200);
    expect(browser.jar.get(gh.url, 'gatehouse')).toBeDefined();
  });

  it('authenticates to the token endpoint with private_key_jwt', async () => {
    const up = await startUpstream();
    const ghPort = await freePort();
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pkjwt-'));
    const keyFile = join(dir, 'client-key.pem');
    writeFileSync(keyFile, await exportPKCS8(privateKey));
    const idp = await startDemoIdp({
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: 'unused-by-private-key-jwt',
          redirect_uris: [`http://127.0.0.1:${ghPort}/.gatehouse/oidc/corp/callback`],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig' }] },
        },
      ],
    });
    onTestFinished(() => idp.close());
    const cfg = ghConfig(ghPort, idp.issuer, up.url, { token_endpoint_auth_method: 'private_key_jwt', private_key_file: keyFile });
    delete (cfg.identity_providers[0] as Record<string, unknown>).client_secret;
    const gh = await startTestGatehouse(cfg);
    await gh.current().providers.oidc.get('corp')!.ready();
    const browser = new TestBrowser();
    expect((await browser.go(`${gh.url}/`, USERS.alice)).status).toBe(200);
    expect(browser.jar.get(gh.url, 'gatehouse')).toBeDefined();
  });
});
