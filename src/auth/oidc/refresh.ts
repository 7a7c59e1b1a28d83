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
  return new TokenRefresher(clients, sessions, log, onAuthEvent, now);
}

type Tokens = Awaited<ReturnType<typeof client.refreshTokenGrant>>;
type StoredTokens = ReturnType<SessionManager['tokens']>;

class TokenRefresher implements Refresher {
  readonly #clients: ReadonlyMap<string, OidcClient>;
  readonly #sessions: SessionManager;
  readonly #log: Logger;
  readonly #onAuthEvent: (e: AuthEventInput) => void;
  readonly #now: () => number;
  /** Session keys with a refresh under way, so a burst of requests redeems the token once. */
  readonly #inflight = new Set<string>();

  constructor(
    clients: ReadonlyMap<string, OidcClient>,
    sessions: SessionManager,
    log: Logger,
    onAuthEvent: (e: AuthEventInput) => void,
    now: () => number,
  ) {
    this.#clients = clients;
    this.#sessions = sessions;
    this.#log = log;
    this.#onAuthEvent = onAuthEvent;
    this.#now = now;
  }

  maybeRefresh(key: string, record: SessionRecord): void {
    if (record.refreshAt === undefined || this.#now() < record.refreshAt || this.#inflight.has(key)) return;
    const oidc = this.#clients.get(record.idp);
    if (!oidc) return;
    this.#inflight.add(key);
    this.#refresh(key, record, oidc)
      .catch((err: unknown) => this.#log.warn({ idp: record.idp, err: (err as Error).message }, 'token refresh failed'))
      .finally(() => this.#inflight.delete(key));
  }

  async #refresh(key: string, record: SessionRecord, oidc: OidcClient): Promise<void> {
    const stored = this.#sessions.tokens(key, record);
    const refreshToken = stored?.refresh_token;
    if (!refreshToken) {
      await this.#sessions.update(key, record, { refreshAt: undefined });
      return;
    }
    const tokens = await this.#redeem(key, record, oidc, refreshToken);
    if (!tokens || !(await this.#sameUser(key, record, oidc, tokens))) return;
    await this.#store(key, record, oidc, stored, refreshToken, tokens);
  }

  /** The new tokens, or undefined when the session was ended (refused) or the retry scheduled (unreachable). */
  async #redeem(key: string, record: SessionRecord, oidc: OidcClient, refreshToken: string): Promise<Tokens | undefined> {
    try {
      return await client.refreshTokenGrant(oidc.configuration(), refreshToken);
    } catch (err) {
      const code = oauthErrorCode(err);
      if (code !== undefined) {
        this.#log.info({ idp: record.idp, user: record.user, reason: 'refresh_failed', oauth_error: code }, 'session_revoked');
        await this.#endSession(key, record, `the identity provider refused the refresh token (${code})`);
        return undefined;
      }
      this.#log.warn({ idp: record.idp, err: (err as Error).message }, 'token refresh failed; keeping the session and retrying later');
      await this.#sessions.update(key, record, { refreshAt: this.#now() + RETRY_MS });
      return undefined;
    }
  }

  /** Whether a refreshed ID token (if any) verifies and names the same user; if not, the session is ended. */
  async #sameUser(key: string, record: SessionRecord, oidc: OidcClient, tokens: Tokens): Promise<boolean> {
    if (tokens.id_token) {
      try {
        await oidc.verifyIdToken(tokens.id_token);
      } catch (err) {
        this.#log.warn({ idp: record.idp, user: record.user, reason: 'refresh_failed', err: (err as Error).message }, 'session_revoked');
        await this.#endSession(key, record, 'the refreshed ID token did not verify');
        return false;
      }
    }
    const claims = tokens.claims();
    // OIDC Core 12.2: a refreshed ID token must be about the same user.
    if (claims && record.subject !== undefined && claims.sub !== record.subject) {
      this.#log.warn(
        { idp: record.idp, user: record.user, reason: 'refresh_failed' },
        'session_revoked: refreshed ID token names another subject',
      );
      await this.#endSession(key, record, 'the refreshed ID token names another subject');
      return false;
    }
    return true;
  }

  /** The refreshed claims and tokens go into the session, with the time of the next refresh. */
  async #store(
    key: string,
    record: SessionRecord,
    oidc: OidcClient,
    stored: StoredTokens,
    refreshToken: string,
    tokens: Tokens,
  ): Promise<void> {
    const claims = tokens.claims();
    const mapped = claims ? mapClaims(claims, oidc.config.claims, oidc.config.splitGroupValuesOn) : undefined;
    await this.#sessions.update(key, record, {
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
        this.#now(),
      ),
    });
  }

  async #endSession(key: string, record: SessionRecord, message: string): Promise<void> {
    await this.#sessions.revoke(key);
    this.#onAuthEvent({
      action: 'session_revoked',
      outcome: 'success',
      reason: 'refresh_failed',
      message,
      user: record,
      idp: record.idp,
      session: key,
    });
  }
}
