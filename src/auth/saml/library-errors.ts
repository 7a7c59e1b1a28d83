// node-saml's refusals, in Gatehouse's own words. Its messages may quote the message it refused
// ("Unknown SAML issuer. Expected: … Received: <what the sender wrote>", the audience it found),
// and error pages and audit records should not repeat what an attacker wrote; the original error
// stays in `cause`, for the operational log. Each reason is still specific enough to tell the
// attacks apart (wrapping, a second assertion, a foreign key, an expired assertion).

/** First match wins; tested against the library's message. */
const REASONS: readonly (readonly [RegExp, string])[] = [
  [
    /Referenced node|ID cannot refer to more than one element|Only 1 signed references|too many transforms|ref URI/i,
    'invalid signature: Referenced node is not the one element that was signed (signature wrapping)',
  ],
  [/multiple assertions/i, 'invalid signature: the response carries multiple assertions'],
  [/Too many signatures/i, 'invalid signature: an element carries more than one signature'],
  [/encrypt/i, 'invalid signature or encryption: the encrypted assertion could not be read'],
  [/signature/i, "invalid signature: it did not verify with the identity provider's certificate"],
  [/audience/i, 'the assertion is meant for another audience'],
  [/expired/i, 'the message has expired'],
  [/not yet valid/i, 'the message is not yet valid'],
  [/issuer/i, 'the message names an issuer this service does not trust'],
  [/Not a valid XML document/i, 'the message is not valid XML'],
  [/Missing SAML assertion|Cannot obtain assertion/i, 'the response has no assertion'],
  [/NameID/i, 'the message names no NameID'],
  [/status code/i, "the identity provider's status is not Success"],
  [/LogoutRequest ID/i, 'the LogoutRequest has no ID'],
  [/InResponseTo/i, 'its InResponseTo is not valid'],
  [/Unknown SAML (request|response) message/i, 'the message is neither a Response, a LogoutRequest nor a LogoutResponse'],
];

/** Why node-saml refused a message, without its text. */
export function samlLibraryReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // "Error parsing NotOnOrAfter: '<the sender's text>' is not a valid date": the name is node-saml's own.
  const date = /^Error parsing ([A-Za-z]{1,40}):/.exec(message);
  if (date) return `its ${date[1]} is not a valid date`;
  for (const [pattern, reason] of REASONS) if (pattern.test(message)) return reason;
  return 'the message did not pass validation';
}
