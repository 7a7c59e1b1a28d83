// What Gatehouse checks on a SAML Response after node-saml verified its signature (which hands back
// only the signed assertion: no signature wrapping), as one pure function of the two documents and
// what this sign-in expects — so every rule can be tested as a table row, without an IdP.
//
// On the signed assertion: the issuer; the one bearer SubjectConfirmation (Recipient = our ACS URL,
// its own NotOnOrAfter/NotBefore — confirmation.ts); InResponseTo from that confirmation only,
// bound to this browser's pending sign-in (or an explicit opt-in to IdP-initiated sign-in); an ID.
// On the Response (possibly unsigned, so it can only refuse): its issuer, a Success status,
// Destination, and no InResponseTo that differs from the signed one. The result says how long the
// assertion ID must be remembered to refuse a replay (the caller remembers it).
import type { Element } from '@xmldom/xmldom';
import { bearerConfirmation } from './confirmation.ts';
import { childElement, childElements, NS, parseXml, text } from './xml.ts';

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
/** An assertion ID is remembered at least this long, at most a day. */
const MIN_REPLAY_MEMORY_MS = 60_000;
const MAX_REPLAY_MEMORY_MS = 86_400_000;

export interface SamlExpectations {
  /** The IdP's issuer (configured idp_issuer, else the metadata's entityID); undefined: not checked. */
  readonly issuer: string | undefined;
  readonly acsUrl: string;
  /** The AuthnRequest ID of the sign-in this browser started, when it started one. */
  readonly pending: { readonly requestId?: string | undefined } | undefined;
  readonly allowIdpInitiated: boolean;
  readonly nowMs: number;
  readonly clockSkewMs: number;
}

export interface SamlFacts {
  /** The signed assertion, parsed (for the attribute mapping). */
  readonly assertion: Element;
  readonly assertionId: string;
  /** How long to remember `assertionId` (until the assertion expires, within bounds). */
  readonly rememberMs: number;
  /** True for an answer to the sign-in this browser started, false for an IdP-initiated one. */
  readonly spInitiated: boolean;
}

export type SamlCheck = { readonly ok: true; readonly facts: SamlFacts } | { readonly ok: false; readonly reason: string };

const show = (v: string) => JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}…` : v);

/** `responseXml`: the Response as posted; `assertionXml`: the assertion node-saml verified. */
export function checkSamlResponse(input: {
  readonly responseXml: string;
  readonly assertionXml: string;
  readonly expected: SamlExpectations;
}): SamlCheck {
  const { expected } = input;
  const no = (reason: string): SamlCheck => ({ ok: false, reason });
  const assertion = parseXml(input.assertionXml).documentElement;
  const response = parseXml(input.responseXml).documentElement;
  if (!assertion || !response) return no('the response has no assertion');

  // The issuer: node-saml checks it only on logout messages.
  const assertionIssuer = text(childElement(assertion, NS.saml, 'Issuer'));
  if (expected.issuer !== undefined && assertionIssuer !== expected.issuer)
    return no(`wrong issuer: the assertion was issued by ${assertionIssuer ?? 'nobody'}, not by ${expected.issuer}`);
  const responseIssuer = Array.from(response.childNodes)
    .find((n) => n.nodeType === 1 && (n as unknown as { localName: string }).localName === 'Issuer')
    ?.textContent?.trim();
  if (expected.issuer !== undefined && responseIssuer !== undefined && responseIssuer !== expected.issuer)
    return no(`wrong issuer: the response was issued by ${responseIssuer}, not by ${expected.issuer}`);

  // node-saml reads the status only when there is no assertion: a failure status next to a signed
  // assertion (an IdP answering "denied" while attaching one) must not sign anyone in.
  const statuses = childElements(response, NS.samlp, 'Status');
  const codes = statuses.length === 1 ? childElements(statuses[0]!, NS.samlp, 'StatusCode') : [];
  if (codes.length !== 1) return no('the response has no single top-level status code');
  const status = codes[0]!.getAttribute('Value') ?? '';
  if (status !== SUCCESS) return no(`the identity provider's status is ${show(status)}, not Success`);

  if (response.hasAttribute('Destination') && response.getAttribute('Destination') !== expected.acsUrl) {
    return no(`the response is addressed to ${show(response.getAttribute('Destination') ?? '')}, not to this service`);
  }
  const checked = bearerConfirmation(assertion, expected.acsUrl, expected.nowMs, expected.clockSkewMs);
  if (!checked.ok) return no(checked.why);

  const irt = checkInResponseTo(response, checked.confirmation.inResponseTo, expected);
  if (irt !== undefined) return no(irt);

  const assertionId = assertion.getAttribute('ID');
  if (!assertionId) return no('the assertion has no ID');
  const rememberMs = Math.min(
    Math.max(checked.confirmation.notOnOrAfter - expected.nowMs + expected.clockSkewMs, MIN_REPLAY_MEMORY_MS),
    MAX_REPLAY_MEMORY_MS,
  );
  return { ok: true, facts: { assertion, assertionId, rememberMs, spInitiated: expected.pending !== undefined } };
}

/**
 * InResponseTo comes from the signed bearer confirmation only. The Response's own copy may be
 * unsigned: it may repeat the signed value, nothing else (SAML profiles §4.1.4.2–3). Returns why
 * it is refused, or undefined.
 */
function checkInResponseTo(response: Element, signedIrt: string | undefined, expected: SamlExpectations): string | undefined {
  if (signedIrt === '') return "the assertion's InResponseTo is empty";
  if (response.hasAttribute('InResponseTo') && response.getAttribute('InResponseTo') !== signedIrt) {
    return signedIrt === undefined
      ? 'the Response names an InResponseTo, the signed assertion none'
      : "the Response's InResponseTo differs from the signed assertion's";
  }
  if (expected.pending) {
    if (signedIrt === undefined) return 'the signed assertion has no InResponseTo for the sign-in this browser started';
    if (signedIrt !== expected.pending.requestId) return 'InResponseTo does not match the sign-in this browser started';
  } else if (signedIrt !== undefined) {
    return 'the response answers a sign-in that is unknown, expired or already used';
  } else if (!expected.allowIdpInitiated) {
    return 'unsolicited (IdP-initiated) responses are not accepted here';
  }
  return undefined;
}
