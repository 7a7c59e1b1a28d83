// Background token refresh. When a session's tokens expire (or revalidate_interval passes), the
// next request goes on with the identity it has while the refresh token is redeemed; the new ID
// token's claims update the session. If the IdP refuses (user disabled, token revoked), the session
// ends (reason refresh_failed). If the IdP is merely unreachable, the session stays and it is
// tried again a minute later.
import * as client from 'openid-client';
import type { AuthEventInput } from '../../audit/events.ts';
import type { Logger } from '../../log.ts';
import type { SessionManager } from '../../session/manager.ts';
import type { SessionRecord } from '../../session/store.ts';
import type { OidcClient } from './client.ts';
import { mapClaims } from './claims.ts';
import { oauthErrorCode } from './errors.ts';
import { nextRefreshAt } from './token-times.ts';

const RETRY_MS = 60_000;

export interface Refresher {
  /** Start a refresh when one is due; never throws, never blocks the request. */
  maybeRefresh(key: string, record: SessionRecord): void;
}

export function createRefresher(
  clients: ReadonlyMap<string, OidcClient>,
  sessions: SessionManager,
  log: Logger,
  onAuthEvent: (e: AuthEventInput) => void,
  now: () => number = Date.now,
): Refresher {
  const inflight = new Set<string>();
  const endSession = async (key: string, record: SessionRecord, message: string) => {
    await sessions.revoke(key);
    onAuthEvent({
      action: 'session_revoked',
      outcome: 'success',
      reason: 'refresh_failed',
      message,
      user: record,
      idp: record.idp,
      session: key,
    });
  };

  const refresh = async (key: string, record: SessionRecord, oidc: OidcClient) => {
    const stored = sessions.tokens(key, record);
    const refreshToken = stored?.refresh_token;
    if (!refreshToken) {
      await sessions.update(key, record, { refreshAt: undefined });
      return;
    }
    let tokens;
    try {
      tokens = await client.refreshTokenGrant(oidc.configuration(), refreshToken);
    } catch (err) {
      const code = oauthErrorCode(err);
      if (code !== undefined) {
        log.info({ idp: record.idp, user: record.user, reason: 'refresh_failed', oauth_error: code }, 'session_revoked');
        await endSession(key, record, `the identity provider refused the refresh token (${code})`);
        return;
      }
      log.warn({ idp: record.idp, err: (err as Error).message }, 'token refresh failed; keeping the session and retrying later');
      await sessions.update(key, record, { refreshAt: now() + RETRY_MS });
      return;
    }
    if (tokens.id_token) {
      try {
        await oidc.verifyIdToken(tokens.id_token);
      } catch (err) {
        log.warn({ idp: record.idp, user: record.user, reason: 'refresh_failed', err: (err as Error).message }, 'session_revoked');
        await endSession(key, record, 'the refreshed ID token did not verify');
        return;
      }
    }
    const claims = tokens.claims();
    // OIDC Core 12.2: a refreshed ID token must be about the same user.
    if (claims && record.subject !== undefined && claims.sub !== record.subject) {
      log.warn(
        { idp: record.idp, user: record.user, reason: 'refresh_failed' },
        'session_revoked: refreshed ID token names another subject',
      );
      await endSession(key, record, 'the refreshed ID token names another subject');
      return;
    }
    const mapped = claims ? mapClaims(claims, oidc.config.claims, oidc.config.splitGroupValuesOn) : undefined;
    await sessions.update(key, record, {
      ...(mapped?.email !== undefined ? { email: mapped.email } : {}),
      ...(mapped?.name !== undefined ? { name: mapped.name } : {}),
      ...(mapped?.groups !== undefined ? { groups: mapped.groups } : {}),
      tokens: {
        ...stored,
        ...(tokens.id_token ? { id_token: tokens.id_token } : {}),
        ...(tokens.access_token ? { access_token: tokens.access_token } : {}),
        refresh_token: tokens.refresh_token ?? refreshToken,
      },
      refreshAt: nextRefreshAt(
        { expires_in: tokens.expires_in, refresh_token: tokens.refresh_token ?? refreshToken },
        claims,
        oidc.config,
        now(),
      ),
    });
  };

  return {
    maybeRefresh(key, record) {
      if (record.refreshAt === undefined || now() < record.refreshAt || inflight.has(key)) return;
      const oidc = clients.get(record.idp);
      if (!oidc) return;
      inflight.add(key);
      refresh(key, record, oidc)
        .catch((err: unknown) => log.warn({ idp: record.idp, err: (err as Error).message }, 'token refresh failed'))
        .finally(() => inflight.delete(key));
    },
  };
}
