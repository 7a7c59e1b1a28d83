// The directory's say over a request's identity (pipeline stage 4, every credential: session
// cookie, bearer token): a user the IdP deactivated is refused, and for a user known to SCIM the
// groups policy and identity headers see are the SCIM groups (scim.groups: replace) or the union
// with the sign-in's (merge). Per request, from Directory.state's cache (dropped at once by change
// notifications; 1 s when they may be missed), so a group removal applies on the next request.
import type { Identity } from '../identity/identity.ts';
import type { Directory, UserState } from './directory.ts';

export type GroupMode = 'replace' | 'merge';

/** The same identity and state give the same object back (per-identity work stays memoised). */
const derived = new WeakMap<Identity, { state: UserState; mode: GroupMode; identity: Identity }>();

export type Applied = { readonly active: true; readonly identity: Identity } | { readonly active: false };

export async function applyDirectory(directory: Directory, mode: GroupMode, identity: Identity): Promise<Applied> {
  const state = await directory.state(identity.user);
  if (!state.known) return { active: true, identity };
  if (!state.active) return { active: false };
  const hit = derived.get(identity);
  if (hit && hit.state === state && hit.mode === mode) return { active: true, identity: hit.identity };
  const groups = mode === 'replace' ? state.groups : [...new Set([...identity.groups, ...state.groups])];
  const next: Identity = sameGroups(groups, identity.groups) ? identity : { ...identity, groups };
  derived.set(identity, { state, mode, identity: next });
  return { active: true, identity: next };
}

/** Where each group of a user comes from: the sign-in token, SCIM, or both (admin API). */
export function groupSources(
  tokenGroups: readonly string[],
  state: UserState,
  mode: GroupMode,
): Array<{ name: string; source: 'token' | 'scim'; applied: boolean }> {
  const scim = state.known ? state.groups : [];
  const out: Array<{ name: string; source: 'token' | 'scim'; applied: boolean }> = [];
  for (const name of scim) out.push({ name, source: 'scim', applied: true });
  const tokenApplied = !state.known || mode === 'merge';
  for (const name of tokenGroups) if (!scim.includes(name) || !tokenApplied) out.push({ name, source: 'token', applied: tokenApplied });
  return out;
}

function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i]);
}
