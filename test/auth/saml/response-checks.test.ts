// What Gatehouse checks on a SAML Response after node-saml verified the signature
// (src/auth/saml/response-checks.ts), one row per rule, without an IdP or a network. The attacks of
// test/integration/saml-attacks.test.ts and test/security/saml.cases.tsv that do not depend on
// the signature or the session store are re-expressed here; those suites still run them end to end.
import { describe, expect, it } from 'vitest';
import { checkSamlResponse, type SamlExpectations } from '../../../src/auth/saml/response-checks.ts';
import { samlLibraryReason } from '../../../src/auth/saml/library-errors.ts';
import { BEARER, IDP_ENTITY, makeKeyPair, newId, responseXml, type ResponseOptions } from '../../support/saml-idp.ts';

const ACS = 'https://gatehouse.test.example/.gatehouse/saml/corp/acs';
const SP = 'https://gatehouse.test.example/saml';
// Whole seconds: xs:dateTime in the test documents carries no milliseconds.
const NOW = Math.floor(Date.now() / 1000) * 1000;
const SKEW = 60_000;
const REQUEST = '_request-id-of-this-browser';
const keys = makeKeyPair();
const minutes = (n: number) => new Date(NOW + n * 60_000);

/** The two documents node-saml hands on: the Response as posted and its (signed) assertion. */
function documents(o: Partial<ResponseOptions>): { responseXml: string; assertionXml: string; assertionId: string } {
  const { xml, assertionId } = responseXml(
    { acsUrl: ACS, audience: SP, inResponseTo: REQUEST, nameId: 'alice@example.com', sign: 'none', ...o },
    keys,
  );
  const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0];
  if (!assertion) throw new Error('no assertion in the test response');
  return { responseXml: xml, assertionXml: assertion, assertionId };
}

const expect_ = (o: Partial<SamlExpectations> = {}): SamlExpectations => ({
  issuer: IDP_ENTITY,
  acsUrl: ACS,
  pending: { requestId: REQUEST },
  allowIdpInitiated: false,
  nowMs: NOW,
  clockSkewMs: SKEW,
  ...o,
});

interface Row {
  readonly name: string;
  readonly response?: Partial<ResponseOptions>;
  readonly expected?: Partial<SamlExpectations>;
  /** undefined: accepted. */
  readonly refused?: RegExp;
}

const ROWS: readonly Row[] = [
  // Controls.
  { name: 'a response to the sign-in this browser started' },
  {
    name: 'an unsolicited response with allow_idp_initiated',
    response: { inResponseTo: undefined },
    expected: { pending: undefined, allowIdpInitiated: true },
  },
  {
    name: 'times within the clock skew (NotOnOrAfter 20 s ago)',
    response: { notBefore: minutes(-2), notOnOrAfter: new Date(NOW - 20_000) },
  },
  { name: 'no Destination on the Response (optional)', response: { destination: null } },
  {
    name: 'no issuer to compare with (none configured, none in metadata)',
    response: { issuer: 'https://anyone.example/' },
    expected: { issuer: undefined },
  },
  // Issuer.
  {
    name: 'another issuer (right key, Issuer another entity)',
    response: { issuer: 'https://other-idp.example/saml' },
    refused: /wrong issuer: the assertion was issued by/,
  },
  // Status.
  {
    name: 'a failure status next to an assertion',
    response: { status: { code: 'urn:oasis:names:tc:SAML:2.0:status:Requester' } },
    refused: /status is "urn:oasis:names:tc:SAML:2.0:status:Requester", not Success/,
  },
  {
    name: 'a nested Success under a failure',
    response: { status: { code: 'urn:oasis:names:tc:SAML:2.0:status:Requester', nested: 'urn:oasis:names:tc:SAML:2.0:status:Success' } },
    refused: /status/,
  },
  { name: 'no Status at all', response: { status: null }, refused: /no single top-level status code/ },
  { name: 'Success in the wrong case', response: { status: { code: 'urn:oasis:names:tc:SAML:2.0:status:success' } }, refused: /status/ },
  // Where it was sent.
  {
    name: 'the Response Destination another service',
    response: { destination: 'https://other-sp.example/acs' },
    refused: /addressed to "https:\/\/other-sp.example\/acs"/,
  },
  { name: 'the Recipient another service', response: { recipient: 'https://other-sp.example/acs' }, refused: /assertion is for/ },
  { name: 'the Recipient our ACS URL with a query', response: { recipient: `${ACS}?x=1` }, refused: /assertion is for/ },
  { name: 'no Recipient', response: { confirmations: [{ data: { Recipient: null } }] }, refused: /no Recipient/ },
  // The bearer confirmation.
  {
    name: 'holder-of-key only',
    response: { confirmations: [{ method: 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key' }] },
    refused: /bearer/,
  },
  {
    name: 'two bearer confirmations',
    response: { confirmations: [{}, { data: { Recipient: 'https://other-sp.example/acs' } }] },
    refused: /more than one bearer/,
  },
  { name: 'no SubjectConfirmationData', response: { confirmations: [{ data: null }] }, refused: /SubjectConfirmationData/ },
  {
    name: 'expired (NotOnOrAfter 5 min ago, skew 60 s)',
    response: { confirmations: [{ data: { NotOnOrAfter: minutes(-5) } }] },
    refused: /expired/,
  },
  {
    name: 'not yet valid (NotBefore in 3 min)',
    response: { confirmations: [{ data: { NotBefore: minutes(3) } }] },
    refused: /not yet valid/,
  },
  {
    name: 'NotOnOrAfter not an xs:dateTime',
    response: { confirmations: [{ data: { NotOnOrAfter: 'yesterday' } }] },
    refused: /NotOnOrAfter/,
  },
  {
    name: 'InResponseTo on a holder-of-key confirmation only',
    response: {
      inResponseTo: undefined,
      responseInResponseTo: null,
      confirmations: [
        { data: { InResponseTo: null } },
        { method: 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key', data: { InResponseTo: REQUEST } },
      ],
    },
    refused: /InResponseTo/,
  },
  // InResponseTo and the pending sign-in.
  {
    name: "a made-up InResponseTo with this browser's sign-in",
    response: { inResponseTo: newId() },
    refused: /InResponseTo does not match/,
  },
  {
    name: 'InResponseTo but no pending sign-in (even the genuine request ID)',
    expected: { pending: undefined, allowIdpInitiated: true },
    refused: /unknown, expired or already used/,
  },
  {
    name: 'unsolicited while allow_idp_initiated is off',
    response: { inResponseTo: undefined },
    expected: { pending: undefined },
    refused: /unsolicited/,
  },
  {
    name: 'an unsolicited assertion for a browser that started a sign-in',
    response: { inResponseTo: undefined },
    refused: /no InResponseTo for the sign-in this browser started/,
  },
  {
    name: 'the Response names an InResponseTo, the signed assertion none',
    response: { inResponseTo: undefined, responseInResponseTo: REQUEST },
    refused: /Response names an InResponseTo, the signed assertion none/,
  },
  {
    name: 'the Response InResponseTo differs from the signed one',
    response: { responseInResponseTo: newId() },
    refused: /differs from the signed assertion/,
  },
  { name: 'the Response InResponseTo empty', response: { responseInResponseTo: '' }, refused: /differs/ },
  { name: 'the signed InResponseTo empty', response: { inResponseTo: '', responseInResponseTo: null }, refused: /InResponseTo is empty/ },
];

describe('checkSamlResponse', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const docs = documents(row.response ?? {});
    const result = checkSamlResponse({ responseXml: docs.responseXml, assertionXml: docs.assertionXml, expected: expect_(row.expected) });
    if (row.refused) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(row.refused);
    } else {
      expect(result, JSON.stringify(result.ok ? {} : result)).toMatchObject({ ok: true, facts: { assertionId: docs.assertionId } });
    }
  });

  it('says whether the sign-in was SP- or IdP-initiated', () => {
    const sp = documents({});
    const idp = documents({ inResponseTo: undefined });
    expect(checkSamlResponse({ ...sp, expected: expect_() })).toMatchObject({ ok: true, facts: { spInitiated: true } });
    expect(checkSamlResponse({ ...idp, expected: expect_({ pending: undefined, allowIdpInitiated: true }) })).toMatchObject({
      ok: true,
      facts: { spInitiated: false },
    });
  });

  it.each<[string, Date, number]>([
    ['until the bearer confirmation expires, plus the skew', minutes(5), 5 * 60_000 + SKEW],
    ['at least a minute', new Date(NOW - 30_000), 60_000],
    ['at most a day', minutes(3 * 24 * 60), 86_400_000],
  ])('remembers the assertion ID (replay) %s', (_name, notOnOrAfter, rememberMs) => {
    const docs = documents({ confirmations: [{ data: { NotOnOrAfter: notOnOrAfter } }] });
    expect(checkSamlResponse({ ...docs, expected: expect_() })).toMatchObject({ ok: true, facts: { rememberMs } });
  });

  it('the bearer method is matched exactly (no case folding, no SAML 1.0 URN)', () => {
    for (const method of [BEARER.toUpperCase(), 'urn:oasis:names:tc:SAML:1.0:cm:bearer']) {
      const result = checkSamlResponse({ ...documents({ confirmations: [{ method }] }), expected: expect_() });
      expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/bearer/) });
    }
  });
});

describe("samlLibraryReason: node-saml's refusals in our words", () => {
  it.each<[string, RegExp]>([
    ['Invalid signature: Referenced node does not refer to it', /^invalid signature: Referenced node/],
    ['Invalid signature: multiple assertions', /multiple assertions/],
    ['Invalid signature', /^invalid signature/],
    ['Invalid document signature', /^invalid signature/],
    ['SAML assertion audience mismatch. Expected: https://sp Received: <script>', /another audience/],
    ['SAML assertion expired: clocks skewed too much', /expired/],
    ['SAML assertion not yet valid', /not yet valid/],
    ['Unknown SAML issuer. Expected: https://idp Received: attacker-text', /issuer this service does not trust/],
    ["Error parsing NotOnOrAfter: 'attacker-text' is not a valid date", /^its NotOnOrAfter is not a valid date$/],
    ['Not a valid XML document', /not valid XML/],
    ['something new', /did not pass validation/],
  ])('%s', (message, reason) => {
    const text = samlLibraryReason(new Error(message));
    expect(text).toMatch(reason);
    expect(text).not.toContain('attacker-text');
    expect(text).not.toContain('<script>');
  });
});
