// Offboarding: end everything a user holds, on every replica, at once — the admin API's
// revocation (DELETE /admin/users/<user>/sessions: the store revokes the user's sessions and
// publishes their keys, so every replica drops its cached copy and closes their WebSockets and
// streams with 1008 "session revoked") plus the user's tokens. Called by SCIM (active:false,
// DELETE) and by Shared Signals; each ended session gets its session_revoked record, with the
// reason and the actor that asked.
import type { AuthEventInput } from '../audit/events.ts';
import type { SessionManager } from '../session/manager.ts';

/** What a deactivated user is told (sign-in refused, any credential of theirs refused). */
export const ACCOUNT_DISABLED =
  "Your account has been deactivated by your organization's identity provider, so you cannot use this service. Contact your administrator if this is unexpected.";

export interface OffboardOptions {
  /** Why ("scim_deactivated", "scim_deleted", "caep_session_revoked", ...): the records' reason. */
  readonly reason: string;
  /** Who asked (the SCIM client, a transmitter's issuer): named in the records. */
  readonly actor: string;
}

export interface OffboardResult {
  readonly user: string;
  /** Session store keys ended. */
  readonly sessions: readonly string[];
  /** Tokens ended (0 until a token store is wired in: OffboardingDeps.revokeTokens). */
  readonly tokens: number;
}

export interface Offboarding {
  offboardUser(user: string, options: OffboardOptions): Promise<OffboardResult>;
}

export interface OffboardingDeps {
  /** The current session manager (a reload may replace it). */
  sessions(): SessionManager;
  /** Audit events outside a request. */
  onAuthEvent(e: AuthEventInput): void;
  /** Ends the user's tokens (personal access / CLI tokens), returns how many; absent: none exist. */
  revokeTokens?: ((user: string) => Promise<number>) | undefined;
}

export function createOffboarding(deps: OffboardingDeps): Offboarding {
  return {
    async offboardUser(user, { reason, actor }) {
      const sessions = deps.sessions();
      // Listed first, so each record names the session's IdP (as the admin API does).
      // The directory matches users case-insensitively; session indexes are exact: end both spellings.
      const names = [...new Set([user, user.toLowerCase()])];
      const listed = (await Promise.all(names.map((n) => sessions.list(n)))).flat();
      const before = new Map(listed.map((l) => [l.id, l.record] as const));
      const keys = (await Promise.all(names.map((n) => sessions.revokeUser(n)))).flat();
      let tokens = 0;
      for (const n of names) tokens += deps.revokeTokens ? await deps.revokeTokens(n) : 0;
      for (const key of keys) {
        const record = before.get(key);
        deps.onAuthEvent({
          action: 'session_revoked',
          outcome: 'success',
          reason,
          session: key,
          credential: actor,
          targetUser: user,
          user: record ?? { user, groups: [], idp: '' },
          idp: record?.idp,
        });
      }
      return { user, sessions: keys, tokens };
    },
  };
}
