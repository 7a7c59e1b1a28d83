// Pieces for SAML attack tests, on top of saml-idp.ts: Response envelopes around hand-assembled
// assertions (for signature wrapping), moving a signature between elements, HTTP-Redirect binding
// messages signed as SAML bindings §3.4.4.1 says, a controllable IdP metadata server, and the usual
// "billion laughs" / XXE prologues.
import { createSign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { onTestFinished } from 'vitest';
import { assertionXml, IDP_ENTITY, newId, signXml, type KeyPair, type ResponseOptions } from './saml-idp.ts';

export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An assertion for `o`, signed by `signer` (enveloped signature right after its Issuer). */
export function signedAssertion(o: ResponseOptions, signer: KeyPair, id: string = newId()): { xml: string; id: string } {
  return { xml: signXml(assertionXml(o, id), id, signer), id };
}

export interface EnvelopeOptions {
  readonly acsUrl: string;
  readonly inResponseTo?: string | undefined;
  readonly issuer?: string;
  readonly id?: string;
  /** Placed inside <samlp:Extensions> (after the Issuer, before the Status). */
  readonly extensions?: string;
}

/** A samlp:Response around `inner` (assertions or anything else), unsigned. */
export function responseEnvelope(inner: string, o: EnvelopeOptions): string {
  const irt = o.inResponseTo ? ` InResponseTo="${o.inResponseTo}"` : '';
  return (
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? newId()}" Version="2.0" IssueInstant="${iso(new Date())}" Destination="${o.acsUrl}"${irt}>` +
    `<saml:Issuer>${o.issuer ?? IDP_ENTITY}</saml:Issuer>` +
    (o.extensions !== undefined ? `<samlp:Extensions>${o.extensions}</samlp:Extensions>` : '') +
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
    inner +
    '</samlp:Response>'
  );
}

/** Cut the (single) ds:Signature out of a signed element: the signature, and the element without it. */
export function splitSignature(signed: string): { signature: string; unsigned: string } {
  const m = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed);
  if (!m) throw new Error('no ds:Signature in the XML');
  return { signature: m[0], unsigned: signed.replace(m[0], '') };
}

/** Insert `xml` right after the first </saml:Issuer> of `element`. */
export function afterFirstIssuer(element: string, xml: string): string {
  const at = element.indexOf('</saml:Issuer>');
  if (at < 0) throw new Error('no saml:Issuer');
  const end = at + '</saml:Issuer>'.length;
  return element.slice(0, end) + xml + element.slice(end);
}

/** Insert `xml` right before `marker` (first occurrence) of `element`. */
export function before(element: string, marker: string, xml: string): string {
  const at = element.indexOf(marker);
  if (at < 0) throw new Error(`no ${marker}`);
  return element.slice(0, at) + xml + element.slice(at);
}

export interface LogoutRequestOptions {
  readonly id?: string;
  readonly nameId: string;
  readonly sessionIndex?: string;
  /** null: no Destination attribute. */
  readonly destination: string | null;
  readonly issuer?: string;
  /** Default now; a string is written as is; null leaves the attribute out. */
  readonly issueInstant?: Date | string | null;
  /** Default five minutes after now; null leaves the attribute out (it is optional). */
  readonly notOnOrAfter?: Date | null;
}

export function logoutRequestXml(o: LogoutRequestOptions): string {
  const now = Date.now();
  const attr = (name: string, v: Date | string | null) => (v === null ? '' : ` ${name}="${typeof v === 'string' ? v : iso(v)}"`);
  return (
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? newId()}" Version="2.0"` +
    `${attr('IssueInstant', o.issueInstant === undefined ? new Date(now) : o.issueInstant)}${attr('NotOnOrAfter', o.notOnOrAfter === undefined ? new Date(now + 5 * 60_000) : o.notOnOrAfter)}${attr('Destination', o.destination)}>` +
    `<saml:Issuer>${o.issuer ?? IDP_ENTITY}</saml:Issuer>` +
    `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameId}</saml:NameID>` +
    (o.sessionIndex ? `<samlp:SessionIndex>${o.sessionIndex}</samlp:SessionIndex>` : '') +
    '</samlp:LogoutRequest>'
  );
}

export function logoutResponseXml(o: { destination: string; inResponseTo?: string; id?: string }): string {
  const irt = o.inResponseTo ? ` InResponseTo="${o.inResponseTo}"` : '';
  return (
    `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${o.id ?? newId()}" Version="2.0" IssueInstant="${iso(new Date())}" Destination="${o.destination}"${irt}>` +
    `<saml:Issuer>${IDP_ENTITY}</saml:Issuer>` +
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
    '</samlp:LogoutResponse>'
  );
}

/** DEFLATE + base64, as the HTTP-Redirect binding carries a message (before URL encoding). */
export const deflate64 = (xml: string) => deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64');

/**
 * An HTTP-Redirect binding query string (no "?"). With `signer`: SigAlg=rsa-sha256 and
 * Signature = base64(RSA-SHA256 over "SAMLRequest=…&RelayState=…&SigAlg=…", exactly as sent).
 */
export function redirectQuery(
  param: 'SAMLRequest' | 'SAMLResponse',
  xml: string,
  relayState: string | undefined,
  signer?: KeyPair,
): string {
  const parts = [`${param}=${encodeURIComponent(deflate64(xml))}`];
  if (relayState !== undefined) parts.push(`RelayState=${encodeURIComponent(relayState)}`);
  if (!signer) return parts.join('&');
  parts.push(`SigAlg=${encodeURIComponent(RSA_SHA256)}`);
  const signedPart = parts.join('&');
  const signature = createSign('RSA-SHA256').update(signedPart).sign(signer.key, 'base64');
  return `${signedPart}&Signature=${encodeURIComponent(signature)}`;
}

/** "Billion laughs": ten levels of ten-fold entity expansion (10^9 "lol"s if ever expanded). */
export function billionLaughsDoctype(): string {
  const levels = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('');
  return `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${levels}]>`;
}

export function xxeDoctype(target = 'file:///etc/passwd'): string {
  return `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "${target}">]>`;
}

/** Replace the XML declaration-less document's root with one that has `prologue` in front. */
export const withPrologue = (prologue: string, xml: string) => prologue + xml.replace(/^<\?xml[^>]*\?>/, '');

export interface MetadataServer {
  readonly url: string;
  /** Requests answered so far. */
  requests(): number;
  /** What the next requests get. */
  serve(answer: { status: number; body: string }): void;
}

/** A local IdP metadata endpoint whose answer the test switches; closed when the test finishes. */
export async function startMetadataServer(initial: { status: number; body: string }): Promise<MetadataServer> {
  let answer = initial;
  let count = 0;
  const server = createServer((_req, res) => {
    count++;
    res.writeHead(answer.status, { 'content-type': 'application/samlmetadata+xml' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/idp/metadata`,
    requests: () => count,
    serve: (a) => {
      answer = a;
    },
  };
}

/** Poll `cond` every 25 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
