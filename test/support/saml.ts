// Gatehouse with a SAML IdP configured from test keys, and a browser-side helper that starts a
// sign-in and answers it with a signed Response, as the IdP would.
import { inflateRawSync } from 'node:zlib';
import { TestBrowser } from './browser-http.ts';
import { freePort } from './ports.ts';
import { b64, idpMetadata, makeKeyPair, responseXml, writeTemp, type KeyPair, type ResponseOptions } from './saml-idp.ts';
import { startTestGatehouse, type StartedGatehouse } from './start-gatehouse.ts';

export const SP_ENTITY = 'https://gatehouse.test/saml';
export const SSO_URL = 'https://idp.test.example/sso';

export interface SamlSetup {
  readonly gh: StartedGatehouse;
  readonly idpKeys: KeyPair;
  readonly acsUrl: string;
}

/** `keepRunning`: the caller shuts `gh` down (a setup shared by several tests, e.g. in beforeAll). */
export async function startSamlSetup(
  upstream: string,
  provider: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  options: { keepRunning?: boolean } = {},
): Promise<SamlSetup> {
  const idpKeys = makeKeyPair();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const gh = await startTestGatehouse(
    {
      log_level: 'silent',
      server: { listen: `127.0.0.1:${port}`, public_url: url },
      admin: { listen: '127.0.0.1:0', token: 'saml-test-admin-token' },
      session: { secret: 'saml-test-session-secret-0123456789abcdef', cookie: { secure: false } },
      identity_providers: [
        {
          id: 'corp',
          type: 'saml',
          idp_metadata_file: writeTemp('idp-metadata.xml', idpMetadata([idpKeys], SSO_URL)),
          sp_entity_id: SP_ENTITY,
          ...provider,
        },
      ],
      routes: [
        { name: 'admin', path: '/admin', upstream, allow: { groups: ['ml-admins'] } },
        { name: 'app', path: '/', upstream, allow: { authenticated: true } },
      ],
      ...extra,
    },
    options,
  );
  return { gh, idpKeys, acsUrl: `${url}/.gatehouse/saml/corp/acs` };
}

export interface StartedLogin {
  readonly requestId: string;
  readonly relayState: string;
  readonly authnRequest: string;
  readonly redirect: URL;
}

/** Open `path` in `browser` until the redirect to the IdP; decode the AuthnRequest. */
export async function startLogin(browser: TestBrowser, gh: StartedGatehouse, path = '/'): Promise<StartedLogin> {
  const stopped = await browser.go(`${gh.url}${path}`, undefined, (u) => u.startsWith(SSO_URL));
  const redirect = new URL(stopped.url);
  const authnRequest = inflateRawSync(Buffer.from(redirect.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  const requestId = /ID="([^"]+)"/.exec(authnRequest)![1]!;
  return { requestId, relayState: redirect.searchParams.get('RelayState')!, authnRequest, redirect };
}

/** POST a SAMLResponse to the ACS as the browser would (auto-submitted form). */
export function postToAcs(browser: TestBrowser, acsUrl: string, samlResponseB64: string, relayState?: string, accept = 'text/html') {
  const body = new URLSearchParams({
    SAMLResponse: samlResponseB64,
    ...(relayState !== undefined ? { RelayState: relayState } : {}),
  }).toString();
  return browser.fetch(acsUrl, { method: 'POST', body, headers: { accept } });
}

/** A whole SP-initiated sign-in answered with a (by default valid) signed response. */
export async function samlSignIn(browser: TestBrowser, s: SamlSetup, response: Partial<ResponseOptions> = {}, path = '/') {
  const login = await startLogin(browser, s.gh, path);
  const { xml } = responseXml({ acsUrl: s.acsUrl, audience: SP_ENTITY, inResponseTo: login.requestId, ...response }, s.idpKeys);
  const res = await postToAcs(browser, s.acsUrl, b64(xml), login.relayState);
  return { login, res, xml };
}
