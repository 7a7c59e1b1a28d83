// The public base URL for this exchange's sign-in callbacks: server.public_url, or, on a route
// with its own host, that host (session cookies are host-only, so the callback must land there).
import type { Config } from '../config/types.ts';
import type { Exchange } from '../http/exchange.ts';

export function publicBase(ex: Exchange, config: Config): string {
  const pub = new URL(config.server.publicUrl);
  if (!ex.route?.host || !ex.servedAuthority || ex.host === pub.hostname) return config.server.publicUrl;
  // A served route host with public_url's port (Runtime.servedAuthority): nothing the client typed.
  return `${pub.protocol}//${ex.servedAuthority}`;
}
