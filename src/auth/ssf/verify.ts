// Verify a pushed Security Event Token (RFC 8417) against the transmitter it claims to come from:
// the unverified `iss` picks the transmitter (config `ssf.transmitters`), then jose checks the
// signature against that transmitter's JWKS (fetched, cached, fetched again at most once per
// cooldown for an unknown key), the algorithm against its allowed list, `typ` = secevent+jwt,
// `iss`, `aud`, and `iat` within max_age (RFC 8417 §2.3 / SSF 1.0 explicit typing: a SET must not
// be mistaken for, or replayed as, another kind of JWT). Every refusal carries the RFC 8935 error
// code the push answer gives (§2.3, the "err" member).
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { SsfConfig, SsfTransmitterConfig } from '../../config/types.ts';
import { GatehouseError } from '../../errors.ts';

/** RFC 8935 §2.3 / the IANA "Security Event Token Error Codes" registry. */
export type SetErrorCode =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'
  | 'access_denied';

/** A refused SET: 400 GH_BAD_SECURITY_EVENT, answered as RFC 8935's `{"err", "description"}`. */
export class SetRefusal extends GatehouseError {
  readonly err: SetErrorCode;

  constructor(err: SetErrorCode, description: string, options?: { cause?: unknown }) {
    super('GH_BAD_SECURITY_EVENT', description, options);
    this.name = 'SetRefusal';
    this.err = err;
  }
}

export interface VerifiedSet {
  readonly transmitter: SsfTransmitterConfig;
  readonly claims: JWTPayload & { readonly jti: string; readonly iat: number };
}

export interface SetVerifier {
  /** Resolves with the checked claims; throws SetRefusal, or GH_IDP_UNAVAILABLE when the keys could not be fetched. */
  verify(token: string): Promise<VerifiedSet>;
}

/** Explicit typing (RFC 8417 §2.3): jose compares it without the "application/" prefix, case-insensitively. */
export const SET_TYP = 'secevent+jwt';
/** Skew allowed on `iat` in the future. */
const CLOCK_TOLERANCE_SEC = 60;
const JWKS_TIMEOUT_MS = 10_000;
/** A SET naming a key the JWKS lacks may make it be fetched again at most this often (SETs can come from anyone). */
const JWKS_COOLDOWN_MS = 30_000;
const MAX_JTI_CHARS = 256;

export function createSetVerifier(config: SsfConfig, now: () => number = Date.now): SetVerifier {
  const byIssuer = new Map(
    config.transmitters.map((t) => [
      t.issuer,
      {
        transmitter: t,
        keys: createRemoteJWKSet(new URL(t.jwksUrl), { cooldownDuration: JWKS_COOLDOWN_MS, timeoutDuration: JWKS_TIMEOUT_MS }),
      },
    ]),
  );
  return {
    async verify(token) {
      const parts = token.split('.');
      if (parts.length === 5) throw new SetRefusal('invalid_request', 'encrypted SETs are not accepted; sign the SET (JWS)');
      if (parts.length !== 3) throw new SetRefusal('invalid_request', 'the body is not a JWT in compact serialization');
      let header: ReturnType<typeof decodeProtectedHeader>;
      let unverified: JWTPayload;
      try {
        header = decodeProtectedHeader(token);
        unverified = decodeJwt(token);
      } catch (err) {
        throw new SetRefusal('invalid_request', 'the body is not a well-formed JWT', { cause: err });
      }
      const entry = typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined;
      if (!entry) throw new SetRefusal('invalid_issuer', 'the "iss" claim names no transmitter this receiver accepts');
      const { transmitter, keys } = entry;
      // Before any key lookup: an unsigned SET, or one in an algorithm not on the list, cannot
      // authenticate its transmitter (and must not cause a JWKS fetch).
      if (typeof header.alg !== 'string' || !transmitter.algorithms.includes(header.alg)) {
        throw new SetRefusal(
          'authentication_failed',
          `the SET must be signed with one of ${transmitter.algorithms.join(', ')} (got ${header.alg === 'none' ? 'an unsigned SET' : `"${String(header.alg).slice(0, 16)}"`})`,
        );
      }
      if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== SET_TYP) {
        throw new SetRefusal('invalid_request', `the JOSE header "typ" must be "${SET_TYP}" (RFC 8417 §2.3)`);
      }
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, keys, {
          algorithms: [...transmitter.algorithms],
          typ: SET_TYP,
          issuer: transmitter.issuer,
          audience: transmitter.audience,
          maxTokenAge: Math.floor(config.maxAgeMs / 1000),
          clockTolerance: CLOCK_TOLERANCE_SEC,
          requiredClaims: ['iat', 'jti'],
          currentDate: new Date(now()),
        }));
      } catch (err) {
        throw refusalOf(err);
      }
      if (typeof claims.jti !== 'string' || claims.jti === '' || claims.jti.length > MAX_JTI_CHARS) {
        throw new SetRefusal('invalid_request', `the "jti" claim must be a string of 1-${MAX_JTI_CHARS} characters`);
      }
      return { transmitter, claims: claims as VerifiedSet['claims'] };
    },
  };
}

/** jose's refusal → the RFC 8935 code, by its error code and the claim it names (never its message text). */
function refusalOf(err: unknown): GatehouseError {
  const e = err as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (e.code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new SetRefusal('invalid_key', 'the signature does not verify with the key the transmitter publishes', { cause: err });
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new SetRefusal('invalid_key', "the SET's key is not one the transmitter publishes in its JWKS", { cause: err });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new SetRefusal('authentication_failed', 'the signing algorithm is not accepted', { cause: err });
    case 'ERR_JWT_EXPIRED':
      return new SetRefusal('invalid_request', 'the SET has expired ("exp")', { cause: err });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      switch (e.claim) {
        case 'aud':
          return new SetRefusal('invalid_audience', 'the "aud" claim does not name this receiver', { cause: err });
        case 'iss':
          return new SetRefusal('invalid_issuer', 'the "iss" claim names no transmitter this receiver accepts', { cause: err });
        case 'iat':
          return new SetRefusal(
            'invalid_request',
            e.reason === 'missing' ? 'the "iat" claim is missing' : 'the "iat" claim is too old or in the future',
            { cause: err },
          );
        case 'typ':
          return new SetRefusal('invalid_request', `the JOSE header "typ" must be "${SET_TYP}" (RFC 8417 §2.3)`, { cause: err });
        default: {
          const claim = typeof e.claim === 'string' && /^[A-Za-z_]{1,32}$/.test(e.claim) ? e.claim : 'a';
          return new SetRefusal('invalid_request', `the "${claim}" claim is ${e.reason === 'missing' ? 'missing' : 'not valid'}`, {
            cause: err,
          });
        }
      }
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new SetRefusal('invalid_request', 'the body is not a well-formed signed JWT', { cause: err });
    default:
      // The JWKS could not be fetched (timeout, connection refused, not a JWKS): our side of the
      // exchange failed, not the SET; a 5xx makes the transmitter retry.
      return new GatehouseError('GH_IDP_UNAVAILABLE', "the transmitter's signing keys could not be fetched", { cause: err });
  }
}
