// What a verified Security Event Token (RFC 8417) says, read without I/O: which CAEP/RISC events it
// carries and whom they are about. Subjects follow the Subject Identifiers for SETs (RFC 9493) that
// the Shared Signals Framework uses: the top-level `sub_id` claim, or — from transmitters on older
// drafts — a `subject` member inside the event (with `subject_type` for `format` in early RISC).
// `complex` (its `user` member) and `aliases` (the first identifier that fits) are looked into.

/** The event types Gatehouse acts on, by their URI. */
export const EVENT_TYPES = {
  'https://schemas.openid.net/secevent/caep/event-type/session-revoked': 'session-revoked',
  'https://schemas.openid.net/secevent/caep/event-type/credential-change': 'credential-change',
  'https://schemas.openid.net/secevent/risc/event-type/account-disabled': 'account-disabled',
  'https://schemas.openid.net/secevent/risc/event-type/account-enabled': 'account-enabled',
} as const;

export type EventKind = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** A subject identifier in one of the formats a transmitter may be configured with. */
export type SubjectId =
  | { readonly format: 'email'; readonly email: string }
  | { readonly format: 'opaque'; readonly id: string }
  | { readonly format: 'iss_sub'; readonly iss: string; readonly sub: string };

export type SubjectFormat = SubjectId['format'];

/** One event of a SET: known ones with their subject; others are accepted and ignored. */
export type SecurityEvent =
  | { readonly known: true; readonly uri: string; readonly kind: EventKind; readonly subject: SubjectId }
  | { readonly known: false; readonly uri: string };

/** A SET Gatehouse cannot act on as sent (RFC 8935 `invalid_request`), with a description for the transmitter. */
export class EventParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventParseError';
  }
}

/** More than this many events in one SET is refused (SSF profiles send one). */
export const MAX_EVENTS = 16;
const MAX_ID_CHARS = 1024;
const MAX_ALIASES = 16;

/**
 * The events of a verified SET's claims. A known event must name its subject in `format`
 * (the transmitter's configured one), directly or inside `complex` / `aliases`.
 */
export function readEvents(claims: Readonly<Record<string, unknown>>, format: SubjectFormat): SecurityEvent[] {
  const events = claims.events;
  if (!isObject(events)) throw new EventParseError('the "events" claim must be a JSON object');
  const uris = Object.keys(events);
  if (uris.length === 0) throw new EventParseError('the "events" claim holds no event');
  if (uris.length > MAX_EVENTS) throw new EventParseError(`more than ${MAX_EVENTS} events in one SET`);
  return uris.map((uri): SecurityEvent => {
    const payload = events[uri];
    if (!isObject(payload)) throw new EventParseError(`event ${uri}: its payload must be a JSON object`);
    const kind = (EVENT_TYPES as Record<string, EventKind | undefined>)[uri];
    if (kind === undefined) return { known: false, uri };
    // RFC 9493 / SSF 1.0: sub_id at the top; earlier drafts put `subject` inside the event.
    const raw = payload.subject ?? claims.sub_id;
    if (raw === undefined) throw new EventParseError(`event ${uri}: no subject (neither "sub_id" nor "subject")`);
    return { known: true, uri, kind, subject: subjectIn(raw, format, uri) };
  });
}

/** The identifier in `format` that `raw` holds, looking into complex and aliases subjects. */
function subjectIn(raw: unknown, format: SubjectFormat, uri: string): SubjectId {
  const found = findSubject(raw, format, 0);
  if (found) return found;
  const said = isObject(raw) ? text(raw.format ?? raw.subject_type, 64) : undefined;
  throw new EventParseError(
    `event ${uri}: its subject ${said ? `(format "${said}") ` : ''}has no "${format}" identifier, which this transmitter is configured to name users by`,
  );
}

function findSubject(raw: unknown, format: SubjectFormat, depth: number): SubjectId | undefined {
  if (!isObject(raw) || depth > 2) return undefined;
  const kind = text(raw.format ?? raw.subject_type, 64);
  switch (kind) {
    case 'email': {
      const email = text(raw.email, MAX_ID_CHARS);
      return format === 'email' && email !== undefined && email.includes('@') ? { format, email } : undefined;
    }
    case 'opaque': {
      const id = text(raw.id, MAX_ID_CHARS);
      return format === 'opaque' && id !== undefined ? { format, id } : undefined;
    }
    case 'iss_sub': {
      const iss = text(raw.iss, MAX_ID_CHARS);
      const sub = text(raw.sub, MAX_ID_CHARS);
      return format === 'iss_sub' && iss !== undefined && sub !== undefined ? { format, iss, sub } : undefined;
    }
    case 'complex':
      // The user is the one whose access ends; session, device and tenant members only narrow it.
      return findSubject(raw.user, format, depth + 1);
    case 'aliases': {
      const ids = Array.isArray(raw.identifiers) ? raw.identifiers.slice(0, MAX_ALIASES) : [];
      for (const id of ids) {
        const s = findSubject(id, format, depth + 1);
        if (s) return s;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-empty string of at most `max` characters, else undefined. */
function text(v: unknown, max: number): string | undefined {
  return typeof v === 'string' && v !== '' && v.length <= max ? v : undefined;
}

/** How a subject is named in logs and audit records. */
export function describeSubject(s: SubjectId): string {
  switch (s.format) {
    case 'email':
      return s.email;
    case 'opaque':
      return s.id;
    case 'iss_sub':
      return `${s.sub} at ${s.iss}`;
  }
}
