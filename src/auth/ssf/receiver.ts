// POST /.gatehouse/ssf/events: the Shared Signals push receiver (RFC 8935). A transmitter POSTs one
// Security Event Token as `application/secevent+jwt`; Gatehouse answers 202 once the SET is
// verified (verify.ts), its `jti` is new (the marker lives in the shared store, so a replay to
// another replica is refused too) and its events are applied; 400 with RFC 8935's
// `{"err", "description"}` when it is refused; 429 beyond `ssf.rate_per_minute` per client address;
// 503 when the store or the transmitter's JWKS is unreachable (the transmitter retries, and a
// SET whose effects could not be applied is not remembered as seen).
//
// Effects (effects.ts does them, on every replica through the store):
//   session-revoked, credential-change   end every session, live connection and token of the user
//   account-disabled                     the same, and the user is inactive: sign-ins are refused
//   account-enabled                      the user is active again
// Other event types (e.g. the SSF verification event) are accepted and ignored, as SSF asks.
import type { IdentityProviderConfig, SsfConfig } from '../../config/types.ts';
import { GatehouseError } from '../../errors.ts';
import { readBody } from '../../http/body.ts';
import type { Exchange } from '../../http/exchange.ts';
import { sendBody } from '../../http/respond.ts';
import type { ReplayGuard } from '../../session/one-time.ts';
import { createLoginRateLimiter, type LoginRateLimiter } from '../login.ts';
import { describeSubject, EventParseError, readEvents, type EventKind, type SecurityEvent, type SubjectId } from './events.ts';
import { createSetVerifier, SetRefusal, type SetVerifier } from './verify.ts';

/** What applying an event needs from the rest of Gatehouse (effects.ts builds it). */
export interface SignalEffects {
  /** End every session, live connection and token of `user` on every replica; the ended session keys. */
  endAccess(user: string, cause: { readonly reason: EventKind; readonly actor: string }): Promise<readonly string[]>;
  /** Mark `user` inactive (sign-ins refused) or active again. */
  setActive(user: string, active: boolean, actor: string): Promise<void>;
  /** The users signed in through identity provider `idp` as `subject` (iss_sub subjects). */
  usersOfSubject(idp: string, subject: string): Promise<readonly string[]>;
}

export interface SignalsReceiver {
  handle(ex: Exchange): Promise<void>;
}

export interface ReceiverOptions {
  readonly config: SsfConfig;
  readonly identityProviders: readonly IdentityProviderConfig[];
  readonly replay: ReplayGuard;
  readonly effects: SignalEffects;
  readonly verifier?: SetVerifier;
  readonly limiter?: LoginRateLimiter;
  readonly now?: () => number;
}

export const SET_MEDIA_TYPE = 'application/secevent+jwt';

export function createSignalsReceiver(o: ReceiverOptions): SignalsReceiver {
  const now = o.now ?? Date.now;
  const verifier = o.verifier ?? createSetVerifier(o.config, now);
  const limiter = o.limiter ?? createLoginRateLimiter(o.config.ratePerMinute);
  // iss_sub subjects: the OIDC provider with that issuer; when it names users by `sub`, that is the user.
  const idpByIssuer = new Map(
    o.identityProviders.flatMap((p) => (p.type === 'oidc' ? [[p.issuer, { id: p.id, userIsSub: p.claims.user === 'sub' }] as const] : [])),
  );
  // The jti marker outlives every SET that could still be accepted (max_age plus clock skew).
  const replayMs = o.config.maxAgeMs + 5 * 60_000;

  const usersOf = async (s: SubjectId): Promise<readonly string[]> => {
    if (s.format === 'email') return [s.email];
    if (s.format === 'opaque') return [s.id];
    const idp = idpByIssuer.get(s.iss);
    if (!idp) throw new SetRefusal('invalid_request', 'the subject\'s "iss" is not the issuer of any identity provider configured here');
    const users = new Set(await o.effects.usersOfSubject(idp.id, s.sub));
    if (idp.userIsSub) users.add(s.sub);
    return [...users];
  };

  const apply = async (ex: Exchange, actor: string, event: SecurityEvent): Promise<void> => {
    if (!event.known) {
      ex.event({
        action: 'security_event',
        outcome: 'success',
        reason: 'ignored',
        credential: actor,
        message: `event type not acted on: ${event.uri}`,
      });
      return;
    }
    const users = await usersOf(event.subject);
    if (users.length === 0) {
      ex.event({
        action: 'security_event',
        outcome: 'success',
        reason: event.kind,
        credential: actor,
        targetUser: describeSubject(event.subject),
        message: 'no Gatehouse user is known by this subject: nothing to end',
      });
      return;
    }
    for (const user of users) {
      let ended = 0;
      if (event.kind === 'account-disabled') await o.effects.setActive(user, false, actor);
      if (event.kind === 'account-enabled') await o.effects.setActive(user, true, actor);
      else ended = (await o.effects.endAccess(user, { reason: event.kind, actor })).length;
      ex.event({ action: 'security_event', outcome: 'success', reason: event.kind, credential: actor, targetUser: user, count: ended });
    }
  };

  return {
    async handle(ex) {
      // A transmitter is an API client: every answer is JSON, never a page.
      ex.browser = false;
      if (ex.req.method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'the Shared Signals endpoint accepts POST only');
      const waitMs = limiter.take(ex.client.ip, now());
      if (waitMs > 0) {
        ex.errorCode = 'GH_RATE_LIMITED';
        ex.event({ action: 'security_event', outcome: 'failure', reason: 'rate_limited' });
        sendBody(
          ex,
          429,
          'application/json',
          `${JSON.stringify({ err: 'too_many_requests', description: 'too many SETs from this address' })}\n`,
          {
            'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
          },
        );
        return;
      }
      let actor: string | undefined;
      let marked: { issuer: string; jti: string } | undefined;
      try {
        const type = (ex.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== SET_MEDIA_TYPE) throw new SetRefusal('invalid_request', `the Content-Type must be ${SET_MEDIA_TYPE}`);
        const body = await readSet(ex, o.config.maxBodyBytes);
        const { transmitter, claims } = await verifier.verify(body);
        actor = transmitter.issuer;
        const events = readEventsOrRefuse(claims, transmitter.subject);
        if (!(await o.replay.once('ssf-jti', transmitter.issuer, claims.jti, replayMs)))
          throw new SetRefusal('invalid_request', 'this SET was already received (replayed "jti")');
        marked = { issuer: transmitter.issuer, jti: claims.jti };
        for (const event of events) await apply(ex, actor, event);
      } catch (err) {
        if (err instanceof SetRefusal) {
          ex.errorCode = err.code;
          ex.event({ action: 'security_event', outcome: 'failure', reason: err.err, credential: actor, message: err.message });
          sendBody(ex, 400, 'application/json', `${JSON.stringify({ err: err.err, description: err.message })}\n`);
          return;
        }
        // Not applied: a retry of the same SET must not be taken for a replay.
        if (marked) await o.replay.forget('ssf-jti', marked.issuer, marked.jti).catch(() => {});
        throw err;
      }
      sendBody(ex, 202, 'text/plain; charset=utf-8', '');
    },
  };
}

/** The body, bounded: too large is a refused SET (400 invalid_request, what RFC 8935 transmitters understand). */
async function readSet(ex: Exchange, limit: number): Promise<string> {
  try {
    return (await readBody(ex.req, limit)).toString('utf8').trim();
  } catch (err) {
    if (err instanceof GatehouseError && err.code === 'GH_PAYLOAD_TOO_LARGE') {
      // The rest of the body is not read: this connection cannot carry another request.
      if (ex.res) ex.res.shouldKeepAlive = false;
      throw new SetRefusal('invalid_request', `the SET is larger than ${limit} bytes`, { cause: err });
    }
    throw err;
  }
}

function readEventsOrRefuse(claims: Readonly<Record<string, unknown>>, format: SubjectId['format']): SecurityEvent[] {
  try {
    return readEvents(claims, format);
  } catch (err) {
    if (err instanceof EventParseError) throw new SetRefusal('invalid_request', err.message, { cause: err });
    throw err;
  }
}
