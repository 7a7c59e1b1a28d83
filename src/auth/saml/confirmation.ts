// What a verified assertion says about its delivery, read the way SAML profiles §4.1.4.2–3 want it
// checked: the one bearer SubjectConfirmation (holder-of-key and sender-vouches ones are for other
// profiles and are ignored), its SubjectConfirmationData with Recipient = our ACS URL and an
// unexpired NotOnOrAfter (NotBefore too, when present), within the configured clock skew.
// node-saml 5 checks these times only when it validates InResponseTo itself, which Gatehouse does
// not let it do (InResponseTo is bound to the browser's pending sign-in in acs.ts).
import type { Element } from '@xmldom/xmldom';
import { childElement, childElements, NS } from './xml.ts';

export const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export interface BearerConfirmation {
  /** Epoch ms. */
  readonly notOnOrAfter: number;
  /** The signed InResponseTo: undefined when absent ("" when present but empty). */
  readonly inResponseTo: string | undefined;
}

export type ConfirmationResult =
  | { readonly ok: true; readonly confirmation: BearerConfirmation }
  | { readonly ok: false; readonly why: string };

// SAML core §1.3.3: xs:dateTime in UTC. An explicit zone is required: Date.parse would read a
// zone-less time as local time, and accepts forms ("Jan 1 2030") that are no xs:dateTime at all.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** xs:dateTime → epoch ms, or undefined when it is none. */
export function parseDateTime(v: string): number | undefined {
  if (!DATE_TIME.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

const show = (v: string) => JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}…` : v);

export function bearerConfirmation(assertion: Element, acsUrl: string, nowMs: number, skewMs: number): ConfirmationResult {
  const no = (why: string): ConfirmationResult => ({ ok: false, why });
  const subject = childElement(assertion, NS.saml, 'Subject');
  if (!subject) return no('the assertion has no Subject');
  const bearers = childElements(subject, NS.saml, 'SubjectConfirmation').filter((c) => c.getAttribute('Method') === BEARER);
  if (bearers.length === 0)
    return no(
      `the assertion has no bearer SubjectConfirmation (Method ${BEARER}); holder-of-key and sender-vouches are not browser sign-in`,
    );
  // Two bearer confirmations with different data leave open which one was checked: refused.
  if (bearers.length > 1) return no('the assertion has more than one bearer SubjectConfirmation');
  const datas = childElements(bearers[0]!, NS.saml, 'SubjectConfirmationData');
  if (datas.length !== 1)
    return no(`the bearer SubjectConfirmation has ${datas.length === 0 ? 'no' : 'more than one'} SubjectConfirmationData`);
  const data = datas[0]!;

  const recipient = data.getAttribute('Recipient');
  if (!recipient) return no('the bearer SubjectConfirmationData has no Recipient');
  if (recipient !== acsUrl) return no(`the assertion is for ${show(recipient)}, not for this service`);

  const notOnOrAfterText = data.getAttribute('NotOnOrAfter');
  if (notOnOrAfterText === null) return no('the bearer SubjectConfirmationData has no NotOnOrAfter');
  const notOnOrAfter = parseDateTime(notOnOrAfterText);
  if (notOnOrAfter === undefined)
    return no(`the bearer SubjectConfirmationData NotOnOrAfter ${show(notOnOrAfterText)} is not an xs:dateTime`);
  if (nowMs - skewMs >= notOnOrAfter) return no(`the assertion expired: its bearer confirmation was valid until ${notOnOrAfterText}`);
  const notBeforeText = data.getAttribute('NotBefore');
  if (notBeforeText !== null) {
    const notBefore = parseDateTime(notBeforeText);
    if (notBefore === undefined) return no(`the bearer SubjectConfirmationData NotBefore ${show(notBeforeText)} is not an xs:dateTime`);
    if (nowMs + skewMs < notBefore) return no(`the assertion is not yet valid: its bearer confirmation starts at ${notBeforeText}`);
  }
  return {
    ok: true,
    confirmation: { notOnOrAfter, inResponseTo: data.hasAttribute('InResponseTo') ? data.getAttribute('InResponseTo')! : undefined },
  };
}
