// Signed-in sessions for security tests without an IdP round trip: a session minted by the running
// Gatehouse's own session manager (as sessions.test.ts does), returned as the Cookie header value.
import type { StartedGatehouse } from './start-gatehouse.ts';

export interface TestUser {
  readonly user: string;
  readonly groups: readonly string[];
}

/** `Cookie` header value carrying a fresh session for `who` on `gh`. */
export async function sessionCookie(gh: StartedGatehouse, who: TestUser): Promise<string> {
  const rt = gh.current();
  const s = await rt.sessions.create({ user: who.user, email: who.user, name: who.user, groups: who.groups, idp: 'corp', method: 'test' });
  return `${rt.config.session.cookie.name}=${s.cookieValue}`;
}
