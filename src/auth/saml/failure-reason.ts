// The audit reason code of a refused SAML sign-in (docs/audit.md), from the reason Gatehouse wrote
// (acs.ts, response-checks.ts, confirmation.ts, library-errors.ts). Each pattern is anchored on
// our own words at the start of the reason, never on text the sender chose (issuers, recipients
// and status values quoted later in the reason).

const REASONS: readonly (readonly [RegExp, string])[] = [
  [/^this assertion was already used/, 'replayed'],
  [/^this sign-in was started in another browser/, 'other_browser'],
  [/^the answer came back to the wrong identity provider/, 'wrong_idp'],
  [/^the request carries no SAMLResponse/, 'no_response'],
  [/^(the response contains a DOCTYPE|the SAML response was refused before|the message is not valid XML)/, 'malformed'],
  [/^invalid signature: (Referenced node|the response carries multiple|an element carries more)/, 'signature_wrapping'],
  [/^invalid signature or encryption/, 'decryption_failed'],
  [/^invalid signature/, 'signature_invalid'],
  [/^the assertion is meant for another audience/, 'audience_mismatch'],
  [/^(the message has expired|the assertion expired)/, 'expired'],
  [/^(the message is not yet valid|the assertion is not yet valid)/, 'not_yet_valid'],
  [/^(wrong issuer|the message names an issuer)/, 'issuer_mismatch'],
  [/^the response is addressed to/, 'destination_mismatch'],
  [
    /^(the assertion is for |the bearer SubjectConfirmation|the assertion has more than one bearer|the assertion has no Subject)/,
    'confirmation_invalid',
  ],
  [/^the response answers a sign-in that is unknown/, 'unknown_state'],
  [/^unsolicited/, 'unsolicited'],
  [
    /^(the assertion's InResponseTo|the signed assertion has no InResponseTo|InResponseTo does not match|its InResponseTo)/,
    'in_response_to_mismatch',
  ],
  [/^(the required attribute|the assertion names no user|the message names no NameID)/, 'claim_missing'],
  [/^(the response has no assertion|the assertion has no ID|the response has no single)/, 'no_assertion'],
];

/** `idp_error:<last segment of the status URN>` for a non-Success status (bounded), else the table. */
export function samlFailureReason(why: string): string {
  const status = /^the identity provider's status is "(?:[^"]*:)?([A-Za-z]{1,40})"/.exec(why);
  if (status) return `idp_error:${status[1]}`;
  if (why.startsWith("the identity provider's status is")) return 'idp_error:other';
  for (const [pattern, reason] of REASONS) if (pattern.test(why)) return reason;
  return 'response_invalid';
}
