// The little XML reading Gatehouse does itself (IdP metadata; facts from an assertion node-saml has
// already verified), and the checks every SAML message passes before any parser sees it. Documents
// with a DOCTYPE are refused: SAML never needs one, and entity declarations are how XXE and
// "billion laughs" payloads work. Documents larger in nodes, attributes or depth than any genuine
// message are refused too (checkXmlShape), because the signature stack's ID look-ups are quadratic.
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
  return new DOMParser({
    onError: (level, msg) => {
      if (level !== 'warning') throw new Error(`invalid XML: ${msg}`);
    },
  }).parseFromString(xml, 'text/xml');
}

/** Descendants named ns:local, in document order (for metadata; assertions use childElements). */
export function children(parent: Document | Element, ns: string, local: string): Element[] {
  return Array.from(parent.getElementsByTagNameNS(ns, local)) as Element[];
}

export function first(parent: Document | Element, ns: string, local: string): Element | undefined {
  return children(parent, ns, local)[0];
}

/**
 * Direct children named ns:local. Facts are read from where the schema puts them, never from
 * anywhere below: a Subject inside an Advice, or a NameID inside a SubjectConfirmation, is not the
 * assertion's own.
 */
export function childElements(parent: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local) out.push(n as Element);
  }
  return out;
}

export function childElement(parent: Element, ns: string, local: string): Element | undefined {
  return childElements(parent, ns, local)[0];
}

const XML_SPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;

/**
 * Text content of an element: child text joined across comments (no comment-injection truncation),
 * without the XML whitespace (space, tab, CR, LF) that formatting puts around it. Other white space
 * (U+00A0 and the like) is part of the value: "ml-admins\u00a0" is not "ml-admins".
 */
export function text(el: Element | undefined): string | undefined {
  if (!el) return undefined;
  const t = el.textContent;
  return t === null ? undefined : t.replace(XML_SPACE, '');
}

/**
 * Limits on a SAML message's shape, far above genuine ones: a signed Response has 20–40 elements
 * plus one per attribute value (a user in 1,000 groups: ~1,050 elements and, with xsi:type and its
 * namespaces on every value, ~3,100 attributes), nests 8–10 deep (an encrypted assertion's key
 * info ~12) and carries at most ~10 attributes on an element. The signature stack's cost grows
 * with the square of the node count, attributes included (30,000 sibling elements held the event
 * loop ~21 s): at these limits the worst case measured 0.1–0.3 s on a busy 2-core machine, against
 * ~4 ms for a normal response.
 */
export const XML_SHAPE_LIMITS = {
  /** Elements, comments, processing instructions and CDATA sections together. */
  maxNodes: 2000,
  maxDepth: 32,
  /** On one element, namespace declarations included. */
  maxAttributesPerElement: 32,
  /** In the whole document. */
  maxAttributes: 4000,
} as const;

/** The limits' shape, for a caller (or a test) that sets other numbers. */
export type XmlShapeLimits = { readonly [K in keyof typeof XML_SHAPE_LIMITS]: number };

export type XmlShapeProblem =
  | { readonly kind: 'too-many'; readonly what: 'nodes' | 'attributes' | 'attributes-per-element'; readonly limit: number }
  | { readonly kind: 'too-deep'; readonly limit: number }
  | { readonly kind: 'malformed'; readonly detail: string };

/** Running totals of one scan, checked against the limits as they grow. */
export interface ShapeCount {
  nodes: number;
  attributes: number;
  depth: number;
  readonly limits: XmlShapeLimits;
}

/** What one scanning step returns: the index just past what it read, or why the document is refused. */
export type ShapeStep = number | XmlShapeProblem;

const isNameStart = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || c >= 0x80;
const isNameChar = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
const malformed = (detail: string): XmlShapeProblem => ({ kind: 'malformed', detail });

function skipName(xml: string, j: number): number {
  while (j < xml.length && isNameChar(xml.charCodeAt(j))) j++;
  return j;
}

function skipSpace(xml: string, j: number): number {
  while (j < xml.length && isSpace(xml.charCodeAt(j))) j++;
  return j;
}

/** Index just past `end`, searched from `from`; -1 when the construct never ends. */
function skipPast(xml: string, from: number, end: string): number {
  const at = xml.indexOf(end, from);
  return at < 0 ? -1 : at + end.length;
}

/**
 * One linear pass over the text, before any DOM or signature work: counts nodes, attributes and
 * depth, and refuses tag syntax that is not well-formed XML (unquoted or value-less attributes,
 * "<" in an attribute value, stray markup). Lenient parsers accept such syntax with a warning and
 * could then see a different structure than this scan counted; refusing it keeps the two in step.
 * DOCTYPEs are refused before this (hasDoctype).
 */
export function checkXmlShape(xml: string, limits: XmlShapeLimits = XML_SHAPE_LIMITS): XmlShapeProblem | undefined {
  const count: ShapeCount = { nodes: 0, attributes: 0, depth: 0, limits };
  let i = xml.indexOf('<');
  while (i >= 0) {
    const next = scanMarkup(xml, i, count);
    if (typeof next !== 'number') return next;
    i = xml.indexOf('<', next);
  }
  return count.depth === 0 ? undefined : malformed('an element that is never closed');
}

/** The markup that starts at xml[i] ("<"), told apart by its second character. */
export function scanMarkup(xml: string, i: number, count: ShapeCount): ShapeStep {
  const c = xml.charCodeAt(i + 1);
  if (c === 0x2f) return scanEndTag(xml, i, count); // "</"
  if (c === 0x21) return countNode(count) ?? scanCommentOrCdata(xml, i); // "<!"
  if (c === 0x3f) return countNode(count) ?? scanProcessingInstruction(xml, i); // "<?"
  if (isNameStart(c)) return countNode(count) ?? scanStartTag(xml, i, count);
  return malformed('a "<" that starts no markup');
}

/** One more element, comment, processing instruction or CDATA section: refused past maxNodes. */
export function countNode(count: ShapeCount): XmlShapeProblem | undefined {
  return ++count.nodes > count.limits.maxNodes ? { kind: 'too-many', what: 'nodes', limit: count.limits.maxNodes } : undefined;
}

/** "</name S?>" at xml[i]: closes one level, which must have been opened. */
export function scanEndTag(xml: string, i: number, count: ShapeCount): ShapeStep {
  if (!isNameStart(xml.charCodeAt(i + 2))) return malformed('an end tag without a name');
  const j = skipSpace(xml, skipName(xml, i + 2));
  if (xml.charCodeAt(j) !== 0x3e) return malformed('an end tag that does not close');
  if (--count.depth < 0) return malformed('an end tag without a start tag');
  return j + 1;
}

/** "<!--" or "<![CDATA[" at xml[i], to its end; any other "<!" (a markup declaration) is refused. */
export function scanCommentOrCdata(xml: string, i: number): ShapeStep {
  let next: number;
  if (xml.startsWith('<!--', i)) next = skipPast(xml, i + 4, '-->');
  else if (xml.startsWith('<![CDATA[', i)) next = skipPast(xml, i + 9, ']]>');
  else return malformed('a markup declaration');
  return next < 0 ? malformed('an unterminated comment or CDATA section') : next;
}

/** "<?target ...?>" at xml[i], the XML declaration included. */
export function scanProcessingInstruction(xml: string, i: number): ShapeStep {
  const next = skipPast(xml, i + 2, '?>');
  return next < 0 ? malformed('an unterminated processing instruction') : next;
}

/**
 * "<name (S name S? = S? quoted)* S? /?>" at xml[i]: counts its attributes against both limits,
 * and opens one level unless it closes itself ("/>").
 */
export function scanStartTag(xml: string, i: number, count: ShapeCount): ShapeStep {
  const limits = count.limits;
  let j = skipName(xml, i + 2);
  let own = 0;
  for (;;) {
    const spaceAt = j;
    j = skipSpace(xml, j);
    const d = xml.charCodeAt(j);
    if (d === 0x3e) return ++count.depth > limits.maxDepth ? { kind: 'too-deep', limit: limits.maxDepth } : j + 1; // ">"
    if (d === 0x2f && xml.charCodeAt(j + 1) === 0x3e) return j + 2; // "/>"
    if (j === spaceAt || !isNameStart(d)) return malformed('an attribute that is not name="value"');
    const end = scanAttribute(xml, j);
    if (typeof end !== 'number') return end;
    j = end;
    if (++own > limits.maxAttributesPerElement)
      return { kind: 'too-many', what: 'attributes-per-element', limit: limits.maxAttributesPerElement };
    if (++count.attributes > limits.maxAttributes) return { kind: 'too-many', what: 'attributes', limit: limits.maxAttributes };
  }
}

/** 'name S? = S? "value"' (or single quotes) at xml[j], the name's first character already checked; no "<" in the value. */
export function scanAttribute(xml: string, j: number): ShapeStep {
  j = skipSpace(xml, skipName(xml, j));
  if (xml.charCodeAt(j) !== 0x3d) return malformed('an attribute without a value');
  j = skipSpace(xml, j + 1);
  const quote = xml.charCodeAt(j);
  if (quote !== 0x22 && quote !== 0x27) return malformed('an attribute value without quotes');
  for (j++; j < xml.length && xml.charCodeAt(j) !== quote; j++) {
    if (xml.charCodeAt(j) === 0x3c) return malformed('"<" in an attribute value');
  }
  return j >= xml.length ? malformed('an unterminated attribute value') : j + 1;
}

/** A sentence for a shape problem, for the error message. */
export function describeXmlShapeProblem(p: XmlShapeProblem): string {
  switch (p.kind) {
    case 'too-many':
      return p.what === 'nodes'
        ? `it has more than ${p.limit} elements (comments, processing instructions and CDATA sections included)`
        : p.what === 'attributes'
          ? `it has more than ${p.limit} attributes`
          : `an element has more than ${p.limit} attributes`;
    case 'too-deep':
      return `its elements are nested more than ${p.limit} deep`;
    case 'malformed':
      return `it is not well-formed XML (${p.detail})`;
  }
}
