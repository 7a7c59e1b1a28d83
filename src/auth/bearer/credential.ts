// Which request header carries Gatehouse's bearer credential. Tools behind Gatehouse have
// credentials of their own in Authorization (JupyterHub `token …`, Label Studio `Token …`, Basic),
// so the rule is by scheme and header, never by guessing:
//   - `Proxy-Authorization: Bearer <token>` (the Google IAP convention) is Gatehouse's alone. When
//     present it is the credential, Authorization is not read at all and goes upstream unchanged;
//     Proxy-Authorization itself never does (proxy/headers.ts drops it as hop-by-hop).
//   - Otherwise `Authorization: Bearer <token>` is Gatehouse's credential (and, as before, still
//     reaches the upstream).
//   - Any other Authorization scheme is the tool's: never read, never refused, passed upstream.
// Another Proxy-Authorization scheme (Basic for a forward proxy) is not Gatehouse's either.
// A route with `bearer_header: proxy_authorization` (a tool whose own API tokens are Bearer) gives
// Authorization to the tool entirely: Gatehouse reads only Proxy-Authorization there.
import type { IncomingHttpHeaders } from 'node:http';

export type CredentialHeader = 'proxy-authorization' | 'authorization';

export interface BearerCredential {
  readonly token: string;
  /** The header it came from (audit and tests; the upstream never sees Proxy-Authorization). */
  readonly header: CredentialHeader;
}

// The scheme and one space, as before Proxy-Authorization was read (a bare "Bearer" is no credential).
const BEARER = /^bearer /i;

/** Which headers a route lets carry Gatehouse's credential (routes[].bearer_header). */
export type BearerHeaderMode = 'any' | 'proxy_authorization';

/** The bearer credential on a request, by the rule above; undefined when it carries none. */
export function bearerCredential(headers: IncomingHttpHeaders, mode: BearerHeaderMode = 'any'): BearerCredential | undefined {
  const proxy = headers['proxy-authorization'];
  if (proxy !== undefined && BEARER.test(proxy)) return { token: proxy.slice(7).trim(), header: 'proxy-authorization' };
  const own = headers.authorization;
  if (mode === 'any' && own !== undefined && BEARER.test(own)) return { token: own.slice(7).trim(), header: 'authorization' };
  return undefined;
}
