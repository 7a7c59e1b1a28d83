// readEvents: the events of a verified SET and the subject each names, as a table — SSF 1.0's
// top-level sub_id, earlier drafts' `subject` inside the event (and early RISC's subject_type),
// complex and aliases subjects; and every shape that must be refused with a reason.
import { describe, expect, it } from 'vitest';
import { describeSubject, EventParseError, MAX_EVENTS, readEvents, type SubjectFormat } from '../../../src/auth/ssf/events.ts';

const REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CREDENTIAL = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
const DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
const ENABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-enabled';
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
const EMAIL = { format: 'email', email: 'alice@corp.example' };

const READ: readonly (readonly [string, SubjectFormat, Record<string, unknown>, unknown])[] = [
  [
    'sub_id email, session-revoked',
    'email',
    { sub_id: EMAIL, events: { [REVOKED]: {} } },
    [{ known: true, uri: REVOKED, kind: 'session-revoked', subject: { format: 'email', email: 'alice@corp.example' } }],
  ],
  [
    'sub_id opaque, credential-change',
    'opaque',
    { sub_id: { format: 'opaque', id: 'u-123' }, events: { [CREDENTIAL]: { credential_type: 'password', change_type: 'update' } } },
    [{ known: true, uri: CREDENTIAL, kind: 'credential-change', subject: { format: 'opaque', id: 'u-123' } }],
  ],
  [
    'sub_id iss_sub, account-disabled',
    'iss_sub',
    { sub_id: { format: 'iss_sub', iss: 'https://idp.test', sub: 's-1' }, events: { [DISABLED]: { reason: 'hijacking' } } },
    [{ known: true, uri: DISABLED, kind: 'account-disabled', subject: { format: 'iss_sub', iss: 'https://idp.test', sub: 's-1' } }],
  ],
  [
    'legacy subject inside the event wins over sub_id',
    'email',
    { sub_id: { format: 'email', email: 'other@corp.example' }, events: { [ENABLED]: { subject: EMAIL } } },
    [{ known: true, uri: ENABLED, kind: 'account-enabled', subject: { format: 'email', email: 'alice@corp.example' } }],
  ],
  [
    'early RISC subject_type',
    'email',
    { events: { [DISABLED]: { subject: { subject_type: 'email', email: 'alice@corp.example' } } } },
    [{ known: true, uri: DISABLED, kind: 'account-disabled', subject: { format: 'email', email: 'alice@corp.example' } }],
  ],
  [
    'complex: its user member',
    'email',
    { sub_id: { format: 'complex', user: EMAIL, session: { format: 'opaque', id: 'sid' } }, events: { [REVOKED]: {} } },
    [{ known: true, uri: REVOKED, kind: 'session-revoked', subject: { format: 'email', email: 'alice@corp.example' } }],
  ],
  [
    'aliases: the first identifier in the configured format',
    'email',
    { sub_id: { format: 'aliases', identifiers: [{ format: 'opaque', id: 'x' }, EMAIL] }, events: { [REVOKED]: {} } },
    [{ known: true, uri: REVOKED, kind: 'session-revoked', subject: { format: 'email', email: 'alice@corp.example' } }],
  ],
  [
    'unknown event types are kept, without a subject',
    'email',
    { sub_id: { format: 'opaque', id: 'stream' }, events: { [VERIFICATION]: { state: 's' } } },
    [{ known: false, uri: VERIFICATION }],
  ],
];

const REFUSED: readonly (readonly [string, SubjectFormat, Record<string, unknown>, string])[] = [
  ['no events claim', 'email', { sub_id: EMAIL }, 'must be a JSON object'],
  ['events is an array', 'email', { sub_id: EMAIL, events: [REVOKED] }, 'must be a JSON object'],
  ['events is empty', 'email', { sub_id: EMAIL, events: {} }, 'holds no event'],
  ['an event payload is not an object', 'email', { sub_id: EMAIL, events: { [REVOKED]: true } }, 'payload must be a JSON object'],
  ['no subject anywhere', 'email', { events: { [REVOKED]: {} } }, 'no subject'],
  ['email subject without "@"', 'email', { sub_id: { format: 'email', email: 'alice' }, events: { [REVOKED]: {} } }, 'has no "email"'],
  [
    'a format the transmitter is not configured with',
    'email',
    { sub_id: { format: 'opaque', id: 'x' }, events: { [REVOKED]: {} } },
    '(format "opaque")',
  ],
  [
    'iss_sub without sub',
    'iss_sub',
    { sub_id: { format: 'iss_sub', iss: 'https://idp.test' }, events: { [REVOKED]: {} } },
    'has no "iss_sub"',
  ],
  [
    'an over-long identifier',
    'opaque',
    { sub_id: { format: 'opaque', id: 'x'.repeat(1025) }, events: { [REVOKED]: {} } },
    'has no "opaque"',
  ],
  [
    'complex nested too deep',
    'email',
    {
      sub_id: { format: 'complex', user: { format: 'complex', user: { format: 'complex', user: { format: 'complex', user: EMAIL } } } },
      events: { [REVOKED]: {} },
    },
    'has no "email"',
  ],
  [
    `more than ${MAX_EVENTS} events`,
    'email',
    { sub_id: EMAIL, events: Object.fromEntries(Array.from({ length: MAX_EVENTS + 1 }, (_, i) => [`urn:x:${i}`, {}])) },
    `more than ${MAX_EVENTS} events`,
  ],
];

describe('readEvents', () => {
  it.each(READ)('%s', (_name, format, claims, expected) => {
    expect(readEvents(claims, format)).toEqual(expected);
  });

  it.each(REFUSED)('refuses: %s', (_name, format, claims, message) => {
    let caught: unknown;
    try {
      readEvents(claims, format);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EventParseError);
    expect((caught as Error).message).toContain(message);
  });

  it('describes subjects for records', () => {
    expect([
      describeSubject({ format: 'email', email: 'a@b.c' }),
      describeSubject({ format: 'opaque', id: 'u-1' }),
      describeSubject({ format: 'iss_sub', iss: 'https://idp.test', sub: 's-1' }),
    ]).toEqual(['a@b.c', 'u-1', 's-1 at https://idp.test']);
  });
});
