// The little XML reading Gatehouse does itself (IdP metadata; facts from an assertion node-saml has
// already verified). Documents with a DOCTYPE are refused before any parser sees them: SAML never
// needs one, and entity declarations are how XXE and "billion laughs" payloads work.
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';

export const NS = {
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
};

export function hasDoctype(xml: string): boolean {
  return /<!DOCTYPE|<!ENTITY/i.test(xml);
}

export function parseXml(xml: string): Document {
  if (hasDoctype(xml)) throw new Error('XML with a DOCTYPE is refused');
  return new DOMParser({ onError: (level, msg) => {
    if (level !== 'warning') throw new Error(`invalid XML: ${msg}`);
  } }).parseFromString(xml, 'text/xml');
}

export function children(parent: Document | Element, ns: string, local: string): Element[] {
  return Array.from(parent.getElementsByTagNameNS(ns, local)) as Element[];
}

export function first(parent: Document | Element, ns: string, local: string): Element | undefined {
  return children(parent, ns, local)[0];
}

/** Text content of an element, comments and all child text joined (no comment-injection truncation). */
export function text(el: Element | undefined): string | undefined {
  if (!el) return undefined;
  const t = el.textContent;
  return t === null ? undefined : t.trim();
}
