// OIDC Back-Channel Logout 1.0: the IdP POSTs a signed logout token; a valid one ends the sessions
// of that IdP session (`sid`) or, without sid, of that subject (`sub`) — on every replica, through
// the shared store. Checks: signature against the IdP's JWKS (jwks.ts: asymmetric algorithms only), iss,
// aud = client_id, iat within 5 minutes, the back-channel event, sub or sid, no nonce, and a jti
// never seen before.
import type { JWTPayload } from 'jose';
import { GatehouseError } from '../../errors.ts';
import type { SessionManager } from '../../session/manager.ts';
import type { Exchange } from '../../http/exchange.ts';
import { readFormBody } from '../../http/body.ts';
import { sendBody } from '../../http/respond.ts';
import type { OidcClient } from './client.ts';
import { jwtRefusalReason, NoJwksUriError } from './jwks.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const REPLAY_WINDOW_MS = 10 * 60_000;

export interface BackchannelHandler {
  handle(ex: Exchange): Promise<void>;
}

export function createBackchannelHandler(oidc: OidcClient, sessions: SessionManager): BackchannelHandler {
  const bad = (why: string, cause?: unknown) => new GatehouseError('GH_BAD_LOGOUT_TOKEN', `invalid logout token: ${why}`, { cause });

  return {
    async handle(ex) {
      if (ex.req.method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'back-channel logout accepts POST only');
      const token = (await readFormBody(ex.req, 16 * 1024)).get('logout_token');
      if (!token) throw bad('missing logout_token');
      const metadata = oidc.configuration().serverMetadata();
      let payload: JWTPayload;
      try {
        ({ payload } = await oidc.jwks.verify(token, {
          issuer: metadata.issuer,
          audience: oidc.config.clientId,
          maxTokenAge: '5m',
          clockTolerance: oidc.config.clockToleranceSec,
          requiredClaims: ['iat', 'jti'],
        }));
      } catch (err) {
        if (err instanceof GatehouseError) throw err;
        if (err instanceof NoJwksUriError) throw bad('the identity provider publishes no jwks_uri');
        throw bad(jwtRefusalReason(err), err);
      }
      const events = payload.events as Record<string, unknown> | undefined;
      if (!events || typeof events !== 'object' || typeof events[EVENT] !== 'object') throw bad('no back-channel logout event');
      if (payload.nonce !== undefined) throw bad('a logout token must not contain a nonce');
      const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
      const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
      if (sid === undefined && sub === undefined) throw bad('neither sub nor sid');
      if (!(await sessions.replay.once('bcl-jti', oidc.config.id, String(payload.jti), REPLAY_WINDOW_MS)))
        throw bad('replayed (jti already used)');
      const ended = await sessions.revokeByIdp(oidc.config.id, sid !== undefined ? { idpSession: sid } : { subject: sub });
      for (const { key, record } of ended)
        ex.event({ action: 'session_revoked', outcome: 'success', reason: 'backchannel', idp: oidc.config.id, session: key, user: record });
      sendBody(ex, 200, 'text/plain; charset=utf-8', '');
    },
  };
}
