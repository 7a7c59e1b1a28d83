// SAML 2.0 sign-in end to end with genuinely signed responses: success with groups, the same
// policy as OIDC sessions, SP metadata an IdP can be configured from, and single logout.
import { describe, expect, it } from 'vitest';
import { DOMParser } from '@xmldom/xmldom';
import { deflateRawSync } from 'node:zlib';
import { request } from 'undici';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { createPublicKey } from 'node:crypto';
import { encrypt } from 'xml-encryption';
import { postToAcs, samlSignIn, startLogin, startSamlSetup, SP_ENTITY } from '../support/saml.ts';
import { assertionXml, b64, makeKeyPair, newId, responseXml, signXml } from '../support/saml-idp.ts';
import { startUpstream } from '../support/upstream.ts';

const GROUPS = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';
const EMAIL = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';

describe('SAML sign-in', () => {
  it('signs alice in with a signed assertion carrying email and groups; the session passes the same policy as OIDC', async () => {
    const up = await startUpstream();
    const s = await startSamlSetup(up.url, { preset: 'azure' });
    const browser = new TestBrowser();
    const { login, res } = await samlSignIn(
      browser,
      s,
      { nameId: 'alice@example.com', attributes: { [EMAIL]: ['alice@example.com'], [GROUPS]: ['ml-admins', 'data-scientists'] } },
      '/runs/7?x=1',
    );
    expect(login.authnRequest).toContain(`<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${SP_ENTITY}</saml:Issuer>`);
    expect(login.authnRequest).toContain(`AssertionConsumerServiceURL="${s.acsUrl}"`);
    expect(login.relayState).not.toContain('runs'); // the return URL stays server-side
    expect(res.status).toBe(303);
    expect(res.location).toBe(`${s.gh.url}/runs/7?x=1`);
    const cookie = { cookie: `gatehouse=${browser.jar.get(s.gh.url, 'gatehouse')}` };
    expect((await getJson(`${s.gh.url}/.gatehouse/userinfo`, cookie)).body).toMatchObject({
      user: 'alice@example.com',
      email: 'alice@example.com',
      groups: ['ml-admins', 'data-scientists'],
      idp: 'corp',
      auth_method: 'saml',
    });
    expect((await getJson(`${s.gh.url}/admin/x`, cookie)).status).toBe(200);
    const seen = up.seen.at(-1)!;
    expect(seen.headers['x-forwarded-user']).toBe('alice@example.com');
    expect(seen.headers['x-forwarded-groups']).toBe('ml-admins,data-scientists');
  });

  it('denies bob (labelers) the ml-admins route with the same 403 as for OIDC', async () => {
    const up = await startUpstream();
    const s = await startSamlSetup(up.url);
    const browser = new TestBrowser();
    await samlSignIn(browser, s, { nameId: 'bob@example.com', attributes: { groups: ['labelers'], email: ['bob@example.com'] } });
    const cookie = { cookie: `gatehouse=${browser.jar.get(s.gh.url, 'gatehouse')}` };
    const r = await getJson(`${s.gh.url}/admin/x`, cookie);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'GH_FORBIDDEN', groups: ['ml-admins'] });
  });

  it('matches attributes by FriendlyName too, and multi-valued groups', async () => {
    const up = await startUpstream();
    const s = await startSamlSetup(up.url, { attributes: { groups: 'memberOf', email: 'mail' } });
    const browser = new TestBrowser();
    await samlSignIn(browser, s, {
      nameId: 'opaque-id-123',
      attributes: {
        'urn:oid:1.3.6.1.4.1.5923.1.5.1.1|memberOf': ['g1', 'g2', 'ml-admins'],
        'urn:oid:0.9.2342.19200300.100.1.3|mail': ['dora@example.com'],
      },
    });
    const me = await getJson(`${s.gh.url}/.gatehouse/userinfo`, { cookie: `gatehouse=${browser.jar.get(s.gh.url, 'gatehouse')}` });
    expect(me.body).toMatchObject({ user: 'opaque-id-123', email: 'dora@example.com', groups: ['g1', 'g2', 'ml-admins'] });
  });

  it('the login binding cookie is cleared when the last sign-in this browser started completes, kept while another tab waits', async () => {
    const up = await startUpstream();
    const s = await startSamlSetup(up.url);
    const browser = new TestBrowser();
    const tab1 = await startLogin(browser, s.gh);
    const tab2 = await startLogin(browser, s.gh);
    const loginCookie = browser.jar.get(s.gh.url, 'gatehouse-login');
    expect(loginCookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const answer = (requestId: string) =>
      b64(responseXml({ acsUrl: s.acsUrl, audience: SP_ENTITY, inResponseTo: requestId }, s.idpKeys).xml);
    const loginSetCookies = (res: { hops: Array<{ setCookies: string[] }> }) =>
      res.hops.flatMap((h) => h.setCookies).filter((c) => c.startsWith('gatehouse-login='));

    const first = await postToAcs(browser, s.acsUrl, answer(tab1.requestId), tab1.relayState);
    expect(first.status).toBe(303);
    expect(loginSetCookies(first)).toEqual([]);
    expect(browser.jar.get(s.gh.url, 'gatehouse-login')).toBe(loginCookie);

    const second = await postToAcs(browser, s.acsUrl, answer(tab2.requestId), tab2.relayState);
    expect(second.status).toBe(303);
    expect(loginSetCookies(second)).toEqual(['gatehouse-login=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
    expect(browser.jar.get(s.gh.url, 'gatehouse-login')).toBeUndefined();
  });

  it('a configured user attribute that is missing is a clear sign-in failure', async () => {
    const up = await startUpstream();
    const s = await startSamlSetup(up.url, { attributes: { user: 'uid' } });
    const browser = new TestBrowser();
    const { res } = await samlSignIn(browser, s, { attributes: { email: ['x@example.com'] } });
    expect(res.status).toBe(400);
    expect(res.body).toContain('required attribute uid is missing');
    expect(browser.jar.get(s.gh.url, 'gatehouse')).toBeUndefined();
  });
});

describe('encrypted assertions', () => {
  it('decrypts an assertion encrypted to the SP certificate, and refuses one encrypted to another key', async () => {
    const up = await startUpstream();
    const sp = makeKeyPair('gatehouse-sp');
    const s = await startSamlSetup(up.url, { sp_key_file: sp.keyFile, sp_cert_file: sp.certFile });
    const encryptedResponse = async (requestId: string, to: typeof sp) => {
      const id = newId();
      const signed = signXml(
        assertionXml(
          {
            acsUrl: s.acsUrl,
            audience: SP_ENTITY,
            inResponseTo: requestId,
            nameId: 'erin@example.com',
            attributes: { groups: ['ml-admins'] },
          },
          id,
        ),
        id,
        s.idpKeys,
      );
      const encrypted = await new Promise<string>((resolve, reject) =>
        encrypt(
          signed,
          {
            rsa_pub: createPublicKey(to.cert).export({ type: 'spki', format: 'pem' }) as string,
            pem: to.cert,
            encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
            keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
          },
          (err, out) => (err ? reject(err) : resolve(out)),
        ),
      );
      return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${newId()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${s.acsUrl}" InResponseTo="${requestId}"><saml:Issuer>https://idp.test.example/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:EncryptedAssertion>${encrypted}</saml:EncryptedAssertion></samlp:Response>`;
    };
    const browser = new TestBrowser();
    const login = await startLogin(browser, s.gh);
    const ok = await postToAcs(browser, s.acsUrl, b64(await encryptedResponse(login.requestId, sp)), login.relayState);
    expect(ok.status).toBe(303);
    const me = await getJson(`${s.gh.url}/.gatehouse/userinfo`, { cookie: `gatehouse=${browser.jar.get(s.gh.url, 'gatehouse')}` });
    expect(me.body).toMatchObject({ user: 'erin@example.com', groups: ['ml-admins'] });

    const other = new TestBrowser();
    const login2 = await startLogin(other, s.gh);
    const bad = await postToAcs(
      other,
      s.acsUrl,
      b64(await encryptedResponse(login2.requestId, makeKeyPair('stranger'))),
      login2.relayState,
      'application/json',
    );
    expect(bad.status).toBe(400);
    expect(other.jar.get(s.gh.url, 'gatehouse')).toBeUndefined();
  });
});

describe('SP metadata', () => {
  it('serves metadata an IdP can be configured from: entityID, ACS (HTTP-POST) and SLO locations, NameID format', async () => {
    const up = await startUpstream();
    const s = await startSamlSetup(up.url);
    const r = await request(`${s.gh.url}/.gatehouse/saml/corp/metadata`);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('application/samlmetadata+xml');
    const doc = new DOMParser().parseFromString(await r.body.text(), 'text/xml');
    const md = 'urn:oasis:names:tc:SAML:2.0:metadata';
    const entity = doc.getElementsByTagNameNS(md, 'EntityDescriptor')[0]!;
    expect(entity.getAttribute('entityID')).toBe(SP_ENTITY);
    const sp = entity.getElementsByTagNameNS(md, 'SPSSODescriptor')[0]!;
    expect(sp.getAttribute('protocolSupportEnumeration')).toContain('urn:oasis:names:tc:SAML:2.0:protocol');
    const acs = sp.getElementsByTagNameNS(md, 'AssertionConsumerService')[0]!;
    expect(acs.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(acs.getAttribute('Location')).toBe(s.acsUrl);
    expect(sp.getElementsByTagNameNS(md, 'SingleLogoutService')[0]!.getAttribute('Location')).toBe(s.acsUrl.replace('/acs', '/slo'));
    expect(sp.getElementsByTagNameNS(md, 'NameIDFormat').length).toBe(1);
  });
});

describe('SAML single logout', () => {
  it('an IdP-initiated LogoutRequest ends the sessions of that NameID; SP-initiated logout redirects to the IdP', async () => {
    const up = await startUpstream();
    const s = await startSamlSetup(up.url);
    const browser = new TestBrowser();
    await samlSignIn(browser, s, { nameId: 'alice@example.com', sessionIndex: '_sess1' });
    const cookie = { cookie: `gatehouse=${browser.jar.get(s.gh.url, 'gatehouse')}` };
    expect((await getJson(`${s.gh.url}/x`, cookie)).status).toBe(200);

    // SP-initiated: the logout form posts, the browser is sent to the IdP's SLO URL with a LogoutRequest.
    const b2 = new TestBrowser();
    await samlSignIn(b2, s, { nameId: 'carol@example.com', sessionIndex: '_sess2' });
    const page = await b2.fetch(`${s.gh.url}/.gatehouse/logout`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const out = await b2.fetch(`${s.gh.url}/.gatehouse/logout`, { method: 'POST', body: `csrf=${encodeURIComponent(csrf)}` });
    expect(out.status).toBe(303);
    expect(out.location!.startsWith('https://idp.test.example/sso/slo?SAMLRequest=')).toBe(true);

    // IdP-initiated, HTTP-Redirect binding, unsigned: refused, and the session lives on.
    const logoutRequest = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lr1" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${s.acsUrl.replace('/acs', '/slo')}"><saml:Issuer>https://idp.test.example/saml</saml:Issuer><saml:NameID>alice@example.com</saml:NameID><samlp:SessionIndex>_sess1</samlp:SessionIndex></samlp:LogoutRequest>`;
    const unsigned = await getJson(
      `${s.gh.url}/.gatehouse/saml/corp/slo?SAMLRequest=${encodeURIComponent(deflateRawSync(logoutRequest).toString('base64'))}`,
    );
    expect(unsigned.status).toBe(400);
    expect((await getJson(`${s.gh.url}/x`, cookie)).status).toBe(200);
  });
});
