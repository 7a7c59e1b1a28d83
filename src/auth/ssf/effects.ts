// What a Shared Signals event does, in terms of the rest of Gatehouse: ending a user's access is
// the offboarding the admin API and SCIM use (the store revokes the user's sessions and publishes
// their keys, so every replica drops them and closes their WebSockets and streams with 1008
// "session revoked"; tokens end too), and (in)activity is the directory's flag that sign-in checks.
import type { AuthEventInput } from '../../audit/events.ts';
import type { SessionManager } from '../../session/manager.ts';
import { subjectIndex } from '../../session/store.ts';
import type { SignalEffects } from './receiver.ts';

export interface SignalEffectsDeps {
  /** The current session manager (a reload may replace it). */
  sessions(): SessionManager;
  /** Ends everything `user` holds on every replica and records each ended session; the ended session keys. */
  offboardUser(user: string, options: { readonly reason: string; readonly actor: string }): Promise<{ readonly sessions: readonly string[] }>;
  /** The directory's active flag (sign-ins of an inactive user are refused). */
  setActive(user: string, active: boolean, actor: string): Promise<unknown>;
}

export function createSignalEffects(deps: SignalEffectsDeps): SignalEffects {
  return {
    // Records say which signal ended the session: "caep_session_revoked", "risc_account_disabled", ...
    endAccess: async (user, { reason, actor }) =>
      (await deps.offboardUser(user, { reason: `${reason.startsWith('account-') ? 'risc' : 'caep'}_${reason.replace(/-/g, '_')}`, actor }))
        .sessions,
    setActive: async (user, active, actor) => {
      await deps.setActive(user, active, actor);
    },
    async usersOfSubject(idp, subject) {
      const listed = await deps.sessions().store.listIndex(subjectIndex(idp, subject));
      return [...new Set(listed.map(([, record]) => record.user))];
    },
  };
}

/**
 * Offboarding by the session manager alone (no token store, no directory): every session of the
 * user ends on every replica, each with its session_revoked record naming the transmitter.
 */
export function revokeSessionsOf(
  sessions: () => SessionManager,
  onAuthEvent: (e: AuthEventInput) => void,
): SignalEffectsDeps['offboardUser'] {
  return async (user, { reason, actor }) => {
    const s = sessions();
    const before = new Map((await s.list(user)).map((l) => [l.id, l.record] as const));
    const keys = await s.revokeUser(user);
    for (const key of keys) {
      const record = before.get(key);
      onAuthEvent({
        action: 'session_revoked',
        outcome: 'success',
        reason,
        session: key,
        actor,
        user: record ?? { user, groups: [], idp: '' },
        idp: record?.idp,
      });
    }
    return { sessions: keys };
  };
}
