// The audit reason code of every refused SAML sign-in (docs/audit.md): one row per reason text
// Gatehouse writes, and text the sender chose later in a reason never changes the code.
import { describe, expect, it } from 'vitest';
import { samlFailureReason } from '../../../src/auth/saml/failure-reason.ts';
import { samlLibraryReason } from '../../../src/auth/saml/library-errors.ts';

const ROWS: readonly (readonly [string, string])[] = [
  ['this assertion was already used (replay)', 'replayed'],
  ['this sign-in was started in another browser', 'other_browser'],
  ['the answer came back to the wrong identity provider', 'wrong_idp'],
  ['the request carries no SAMLResponse', 'no_response'],
  ['the response contains a DOCTYPE, which SAML never needs', 'malformed'],
  ['the SAML response was refused before any signature check: too deep', 'malformed'],
  ['the assertion is meant for another audience', 'audience_mismatch'],
  ['the assertion expired: its bearer confirmation was valid until 2026-01-01T00:00:00Z', 'expired'],
  ['the assertion is not yet valid: its bearer confirmation starts at 2030-01-01T00:00:00Z', 'not_yet_valid'],
  ['wrong issuer: the assertion was issued by https://evil.example (replay), not by https://idp', 'issuer_mismatch'],
  ['the response is addressed to "https://x/replay", not to this service', 'destination_mismatch'],
  ['the assertion is for "https://elsewhere/acs", not for this service', 'confirmation_invalid'],
  ['the bearer SubjectConfirmationData has no NotOnOrAfter', 'confirmation_invalid'],
  ['the response answers a sign-in that is unknown, expired or already used', 'unknown_state'],
  ['unsolicited (IdP-initiated) responses are not accepted here', 'unsolicited'],
  ['InResponseTo does not match the sign-in this browser started', 'in_response_to_mismatch'],
  ['the required attribute email is missing', 'claim_missing'],
  ['the assertion has no ID', 'no_assertion'],
  ['the identity provider\'s status is "urn:oasis:names:tc:SAML:2.0:status:Responder", not Success', 'idp_error:Responder'],
  ['the identity provider\'s status is "<script>", not Success', 'idp_error:other'],
  ['something new', 'response_invalid'],
];

describe('samlFailureReason', () => {
  for (const [why, code] of ROWS) it(`${code}: ${why.slice(0, 60)}`, () => expect(samlFailureReason(why)).toBe(code));

  it("node-saml's refusals, in our words, get their codes", () => {
    const lib = (message: string) => samlFailureReason(samlLibraryReason(new Error(message)));
    expect(lib('Invalid signature')).toBe('signature_invalid');
    expect(lib('Referenced node does not refer to the signed element')).toBe('signature_wrapping');
    expect(lib('SAML assertion expired: clocks skewed too much')).toBe('expired');
    expect(lib('SAML assertion audience mismatch')).toBe('audience_mismatch');
  });
});
