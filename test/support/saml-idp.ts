// A SAML identity provider for tests: a real RSA key and self-signed certificate (openssl), and
// SAML 2.0 Responses built from a template and signed with xml-crypto exactly as IdPs do
// (enveloped signature, exclusive c14n, RSA-SHA256) — over the assertion, the response, or both.
// Attack cases build on the same pieces (unsigned, other key, wrapped, commented, replayed...).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignedXml } from 'xml-crypto';

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate body (base64, no armour). */
  readonly certBody: string;
}

export function makeKeyPair(cn = 'test-idp'): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-saml-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${cn}`],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(certFile, 'utf8');
  return {
    key: readFileSync(keyFile, 'utf8'),
    cert,
    certFile,
    keyFile,
    certBody: cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
  };
}

export const IDP_ENTITY = 'https://idp.test.example/saml';

export interface ResponseOptions {
  readonly acsUrl: string;
  readonly audience: string;
  readonly inResponseTo?: string | undefined;
  readonly nameId?: string;
  readonly attributes?: Record<string, string[]>;
  readonly issuer?: string;
  readonly destination?: string | null;
  readonly recipient?: string;
  readonly notBefore?: Date;
  readonly notOnOrAfter?: Date;
  readonly assertionId?: string;
  readonly sessionIndex?: string;
  readonly sign?: 'assertion' | 'response' | 'both' | 'none';
  readonly signer?: KeyPair;
  /** The Response's own InResponseTo: by default `inResponseTo`; null leaves it out. */
  readonly responseInResponseTo?: string | null;
  /** The Subject's SubjectConfirmation elements, in order (default: one bearer, see ConfirmationSpec). */
  readonly confirmations?: readonly ConfirmationSpec[];
  /** The Response's top-level StatusCode (and one nested in it); null: no Status element at all. */
  readonly status?: { readonly code: string; readonly nested?: string } | null;
}

/**
 * One SubjectConfirmation. `method` defaults to bearer (null: no Method attribute). `data` is laid
 * over the usual SubjectConfirmationData attributes (NotOnOrAfter, Recipient, InResponseTo): a
 * null value removes one, a Date is written as xs:dateTime; `data: null` leaves the element out.
 */
export interface ConfirmationSpec {
  readonly method?: string | null;
  readonly data?: Readonly<Record<string, string | Date | null>> | null;
}

export const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
export const newId = () => `_${randomBytes(16).toString('hex')}`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function confirmationXml(o: ResponseOptions, spec: ConfirmationSpec, notOnOrAfter: Date): string {
  const method = spec.method === undefined ? BEARER : spec.method;
  const open = `<saml:SubjectConfirmation${method === null ? '' : ` Method="${esc(method)}"`}>`;
  if (spec.data === null) return `${open}</saml:SubjectConfirmation>`;
  const data: Record<string, string | Date | null | undefined> = {
    NotOnOrAfter: notOnOrAfter,
    Recipient: o.recipient ?? o.acsUrl,
    InResponseTo: o.inResponseTo,
    ...spec.data,
  };
  const attrs = Object.entries(data)
    .filter((e): e is [string, string | Date] => e[1] !== null && e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${esc(typeof v === 'string' ? v : iso(v))}"`)
    .join('');
  return `${open}<saml:SubjectConfirmationData${attrs}/></saml:SubjectConfirmation>`;
}

export function assertionXml(o: ResponseOptions, id: string): string {
  const now = new Date();
  const notBefore = o.notBefore ?? new Date(now.getTime() - 60_000);
  const notOnOrAfter = o.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
  // A key "Name|FriendlyName" gives the attribute both.
  const attrs = Object.entries(o.attributes ?? {})
    .map(([key, values]) => {
      const [name = '', friendly] = key.split('|');
      return [name, friendly, values] as const;
    })
    .map(
      ([name, friendly, values]) =>
        `<saml:Attribute Name="${esc(name)}"${friendly ? ` FriendlyName="${esc(friendly)}"` : ''} NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified">${values.map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`,
    )
    .join('');
  const confirmations = (o.confirmations ?? [{}]).map((c) => confirmationXml(o, c, notOnOrAfter)).join('');
  return (
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${iso(now)}">` +
    `<saml:Issuer>${esc(o.issuer ?? IDP_ENTITY)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameId ?? 'alice@example.com'}</saml:NameID>` +
    `${confirmations}</saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(notBefore)}" NotOnOrAfter="${iso(notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${o.sessionIndex ?? newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attrs ? `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>` : '') +
    '</saml:Assertion>'
  );
}

export function signXml(xml: string, idOfSigned: string, signer: KeyPair): string {
  const sig = new SignedXml({
    privateKey: signer.key,
    publicCert: signer.cert,
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
  sig.addReference({
    xpath: `//*[@ID='${idOfSigned}']`,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  // The signature goes right after the Issuer of the signed element, as the schema wants.
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[@ID='${idOfSigned}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}

/** A complete Response as XML (before base64). */
export function responseXml(o: ResponseOptions, signer: KeyPair): { xml: string; assertionId: string; responseId: string } {
  const assertionId = o.assertionId ?? newId();
  const responseId = newId();
  const mode = o.sign ?? 'assertion';
  let assertion = assertionXml(o, assertionId);
  if (mode === 'assertion' || mode === 'both') assertion = signXml(assertion, assertionId, o.signer ?? signer);
  const dest = o.destination === null ? '' : ` Destination="${esc(o.destination ?? o.acsUrl)}"`;
  const responseIrt = o.responseInResponseTo === undefined ? o.inResponseTo : o.responseInResponseTo;
  const irt = responseIrt === undefined || responseIrt === null ? '' : ` InResponseTo="${esc(responseIrt)}"`;
  let xml =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${responseId}" Version="2.0" IssueInstant="${iso(new Date())}"${dest}${irt}>` +
    `<saml:Issuer>${esc(o.issuer ?? IDP_ENTITY)}</saml:Issuer>` +
    statusXml(o.status === undefined ? { code: STATUS_SUCCESS } : o.status) +
    assertion +
    '</samlp:Response>';
  if (mode === 'response' || mode === 'both') xml = signXml(xml, responseId, o.signer ?? signer);
  return { xml, assertionId, responseId };
}

export function statusXml(status: { readonly code: string; readonly nested?: string } | null): string {
  if (status === null) return '';
  const code = `<samlp:StatusCode Value="${esc(status.code)}"`;
  return `<samlp:Status>${status.nested === undefined ? `${code}/>` : `${code}><samlp:StatusCode Value="${esc(status.nested)}"/></samlp:StatusCode>`}</samlp:Status>`;
}

export const b64 = (xml: string) => Buffer.from(xml).toString('base64');

/** IdP metadata document for `idp_metadata_file` / `idp_metadata_url`. */
export function idpMetadata(certs: readonly KeyPair[], ssoUrl: string, sloUrl?: string): string {
  const keys = certs
    .map(
      (c) =>
        `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${c.certBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
    )
    .join('');
  return (
    `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${IDP_ENTITY}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${keys}` +
    `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${sloUrl ?? `${ssoUrl}/slo`}"/>` +
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${ssoUrl}"/></md:IDPSSODescriptor></md:EntityDescriptor>`
  );
}

export function writeTemp(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-saml-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}
