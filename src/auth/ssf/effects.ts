// What a Shared Signals event does, in terms of the rest of Gatehouse: ending a user's access is
// the offboarding the admin API and SCIM use (the store revokes the user's sessions and publishes
// their keys, so every replica drops them and closes their WebSockets and streams with 1008
// "session revoked"; tokens end too), and (in)activity is the directory's flag that sign-in checks.
import type { SessionManager } from '../../session/manager.ts';
import { subjectIndex } from '../../session/store.ts';
import type { SignalEffects } from './receiver.ts';

export interface SignalEffectsDeps {
  /** The current session manager (a reload may replace it). */
  sessions(): SessionManager;
  /** Ends everything `user` holds on every replica and records each ended session; the ended session keys. */
  offboardUser(
    user: string,
    options: { readonly reason: string; readonly actor: string },
  ): Promise<{ readonly sessions: readonly string[] }>;
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
