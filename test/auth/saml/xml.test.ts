// The shape check every SAML message passes before any parser sees it (checkXmlShape in
// src/auth/saml/xml.ts), one table per named step, then the whole scan: every refusal, its
// sentence, and genuine documents that pass. test/security/saml.cases.tsv and
// test/integration/saml-attacks.test.ts still send oversized and malformed messages end to end.
import { describe, expect, it } from 'vitest';
import {
  checkXmlShape,
  countNode,
  describeXmlShapeProblem,
  scanAttribute,
  scanCommentOrCdata,
  scanEndTag,
  scanMarkup,
  scanProcessingInstruction,
  scanStartTag,
  XML_SHAPE_LIMITS,
  type ShapeCount,
  type XmlShapeProblem,
} from '../../../src/auth/saml/xml.ts';

const limits = { maxNodes: 4, maxDepth: 3, maxAttributesPerElement: 2, maxAttributes: 3 } as const;
const fresh = (o: Partial<ShapeCount> = {}): ShapeCount => ({ nodes: 0, attributes: 0, depth: 0, limits, ...o });
const bad = (detail: string): XmlShapeProblem => ({ kind: 'malformed', detail });

describe('countNode', () => {
  it('counts up to maxNodes and refuses the next one', () => {
    const count = fresh({ nodes: limits.maxNodes - 1 });
    expect(countNode(count)).toBeUndefined();
    expect(count.nodes).toBe(limits.maxNodes);
    expect(countNode(count)).toEqual({ kind: 'too-many', what: 'nodes', limit: limits.maxNodes });
  });
});

describe('scanEndTag', () => {
  it.each<[string, number, ShapeCount['depth'], number | XmlShapeProblem]>([
    ['</a>', 1, 0, 4],
    ['</saml:Assertion >', 1, 0, 18],
    ['</a\n\t>rest', 1, 0, 6],
    ['</>', 1, 1, bad('an end tag without a name')],
    ['</1a>', 1, 1, bad('an end tag without a name')],
    ['</a', 1, 1, bad('an end tag that does not close')],
    ['</a b>', 1, 1, bad('an end tag that does not close')],
    ['</a>', 0, -1, bad('an end tag without a start tag')],
  ])('%j at depth %i', (xml, depth, after, want) => {
    const count = fresh({ depth });
    expect(scanEndTag(xml, 0, count)).toEqual(want);
    expect(count.depth).toBe(after);
  });
});

describe('scanCommentOrCdata', () => {
  it.each<[string, number | XmlShapeProblem]>([
    ['<!-- c -->x', 10],
    ['<!---->', 7],
    ['<![CDATA[<a>]]>x', 15],
    ['<![CDATA[]]>', 12],
    ['<!-- never ends', bad('an unterminated comment or CDATA section')],
    ['<![CDATA[ never ends', bad('an unterminated comment or CDATA section')],
    ['<!ELEMENT a ANY>', bad('a markup declaration')],
    ['<!ATTLIST a b CDATA #IMPLIED>', bad('a markup declaration')],
    ['<![INCLUDE[ x ]]>', bad('a markup declaration')],
  ])('%j', (xml, want) => {
    expect(scanCommentOrCdata(xml, 0)).toEqual(want);
  });
});

describe('scanProcessingInstruction', () => {
  it.each<[string, number | XmlShapeProblem]>([
    ['<?xml version="1.0"?><a/>', 21],
    ['<?pi?>', 6],
    ['<?xml version="1.0"', bad('an unterminated processing instruction')],
  ])('%j', (xml, want) => {
    expect(scanProcessingInstruction(xml, 0)).toEqual(want);
  });
});

describe('scanAttribute', () => {
  it.each<[string, number | XmlShapeProblem]>([
    ['a="1"', 5],
    ["a='1'", 5],
    ['xmlns:saml = "urn:x" ', 20],
    ['a="it\'s"', 8],
    ['a=\'say "hi"\'', 12],
    ['a="x>y"', 7],
    ['a', bad('an attribute without a value')],
    ['a b="1"', bad('an attribute without a value')],
    ['a=1', bad('an attribute value without quotes')],
    ['a=', bad('an attribute value without quotes')],
    ['a="x<y"', bad('"<" in an attribute value')],
    ['a="never ends', bad('an unterminated attribute value')],
    ['a="mixed\'', bad('an unterminated attribute value')],
  ])('%j', (xml, want) => {
    expect(scanAttribute(xml, 0)).toEqual(want);
  });
});

describe('scanStartTag', () => {
  it.each<[string, number | XmlShapeProblem, Partial<ShapeCount>]>([
    ['<a>', 3, { depth: 1, attributes: 0 }],
    ['<a/>', 4, { depth: 0 }],
    ['<a />', 5, { depth: 0 }],
    ['<a b="1" c=\'2\'>', 15, { depth: 1, attributes: 2 }],
    ['<a\n b="1"\n/>', 12, { depth: 0, attributes: 1 }],
    ['<a b="1"c="2">', bad('an attribute that is not name="value"'), {}],
    ['<a b>', bad('an attribute without a value'), {}],
    ['<a -b="1">', bad('an attribute that is not name="value"'), {}],
    ['<a / >', bad('an attribute that is not name="value"'), {}],
    ['<a', bad('an attribute that is not name="value"'), {}],
    ['<a b=1>', bad('an attribute value without quotes'), {}],
    ['<a b="1" c="2" d="3">', { kind: 'too-many', what: 'attributes-per-element', limit: limits.maxAttributesPerElement }, {}],
  ])('%j', (xml, want, after) => {
    const count = fresh();
    expect(scanStartTag(xml, 0, count)).toEqual(want);
    expect(count).toMatchObject(after);
  });

  it('refuses past maxDepth and past maxAttributes in the whole document', () => {
    expect(scanStartTag('<a>', 0, fresh({ depth: limits.maxDepth }))).toEqual({ kind: 'too-deep', limit: limits.maxDepth });
    expect(scanStartTag('<a b="1">', 0, fresh({ attributes: limits.maxAttributes }))).toEqual({
      kind: 'too-many',
      what: 'attributes',
      limit: limits.maxAttributes,
    });
  });
});

describe('scanMarkup', () => {
  it.each<[string, number | XmlShapeProblem, number]>([
    ['<a>', 3, 1],
    ['</a>', 4, 0],
    ['<!-- c -->', 10, 1],
    ['<?pi?>', 6, 1],
    ['< a>', bad('a "<" that starts no markup'), 0],
    ['<1>', bad('a "<" that starts no markup'), 0],
    ['<', bad('a "<" that starts no markup'), 0],
  ])('%j', (xml, want, nodes) => {
    const count = fresh({ depth: xml.startsWith('</') ? 1 : 0 });
    expect(scanMarkup(xml, 0, count)).toEqual(want);
    expect(count.nodes).toBe(nodes);
  });

  it('counts the node before looking further, so a flood of anything is refused as nodes', () => {
    for (const xml of ['<a>', '<!ELEMENT a>', '<?pi']) {
      expect(scanMarkup(xml, 0, fresh({ nodes: limits.maxNodes }))).toEqual({ kind: 'too-many', what: 'nodes', limit: limits.maxNodes });
    }
  });
});

describe('checkXmlShape', () => {
  it.each<[string, XmlShapeProblem | undefined]>([
    ['<?xml version="1.0"?><a b="1"><!-- c --><c/></a>', undefined],
    ['text only, no markup', undefined],
    ['<a><b><c>deep</c></b></a>', undefined],
    ['<a><b><c><d/></c></b></a>', undefined],
    ['<a><b><c><d></d></c></b></a>', { kind: 'too-deep', limit: 3 }],
    ['<a/><b/><c/><d/>', undefined],
    ['<a/><b/><c/><d/><e/>', { kind: 'too-many', what: 'nodes', limit: 4 }],
    ['<a/><!--1--><?p?><![CDATA[x]]><!--5-->', { kind: 'too-many', what: 'nodes', limit: 4 }],
    ['<a x="1"><b y="2"/><c z="3"/></a>', undefined],
    ['<a x="1"><b y="2" w="3"/><c z="4"/></a>', { kind: 'too-many', what: 'attributes', limit: 3 }],
    ['<a x="1" y="2" z="3"/>', { kind: 'too-many', what: 'attributes-per-element', limit: 2 }],
    ['<a>', bad('an element that is never closed')],
    ['<a></a></a>', bad('an end tag without a start tag')],
    ['<a>1 < 2</a>', bad('a "<" that starts no markup')],
    ['<a b=1/>', bad('an attribute value without quotes')],
    ['<a b="<c>"/>', bad('"<" in an attribute value')],
    ['<!ENTITY x "y"><a/>', bad('a markup declaration')],
  ])('%j', (xml, want) => {
    expect(checkXmlShape(xml, limits)).toEqual(want);
  });

  it('passes a Response the size of a user in 1,000 groups under the default limits', () => {
    const values = Array.from(
      { length: 1000 },
      (_, i) =>
        `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">group-${i}</saml:AttributeValue>`,
    ).join('');
    const xml = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><saml:AttributeStatement><saml:Attribute Name="groups">${values}</saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>`;
    expect(checkXmlShape(xml)).toBeUndefined();
    expect(checkXmlShape(xml, { ...XML_SHAPE_LIMITS, maxNodes: 1000 })).toEqual({ kind: 'too-many', what: 'nodes', limit: 1000 });
  });
});

describe('describeXmlShapeProblem', () => {
  it.each<[XmlShapeProblem, string]>([
    [
      { kind: 'too-many', what: 'nodes', limit: 2000 },
      'it has more than 2000 elements (comments, processing instructions and CDATA sections included)',
    ],
    [{ kind: 'too-many', what: 'attributes', limit: 4000 }, 'it has more than 4000 attributes'],
    [{ kind: 'too-many', what: 'attributes-per-element', limit: 32 }, 'an element has more than 32 attributes'],
    [{ kind: 'too-deep', limit: 32 }, 'its elements are nested more than 32 deep'],
    [bad('a markup declaration'), 'it is not well-formed XML (a markup declaration)'],
  ])('%j', (p, want) => {
    expect(describeXmlShapeProblem(p)).toBe(want);
  });
});
