// Where a browser may be sent after sign-in (`rd`): a path on this host, or an absolute URL on an
// origin Gatehouse serves: public_url's, or a route host with public_url's scheme and port (one
// listener serves them all; another port on a served name is another application). Everything else — protocol-relative "//evil", "/\evil",
// "https:evil", "javascript:", control characters, encoded tricks that decode to any of these —
// falls back to "/". Decided from config once; the check itself is pure. The host is matched like
// the route table matches it (route/hosts.ts), after the same strict parse a request's Host gets.
import type { Config } from '../config/types.ts';
import { parseHost } from '../route/host.ts';
import { createHostMatcher } from '../route/hosts.ts';

const FALLBACK = '/';
const INTERNAL_BASE = 'http://gatehouse.internal';
// Backslashes are read as slashes by browsers; control characters and whitespace have no place here.
const FORBIDDEN = /[\\\u0000-\u001f\u007f\s]/;

export type ReturnUrlCheck = (rd: string | null | undefined) => string;

export function createReturnUrlCheck(config: Config): ReturnUrlCheck {
  const pub = new URL(config.server.publicUrl);
  const served = createHostMatcher([pub.hostname, ...config.routes.flatMap((r) => (r.host === undefined ? [] : [r.host]))]);
  // URL() has already dropped a default port, so "" is 443 for https and 80 for http.
  const originAllowed = (url: URL) => {
    if (url.protocol !== pub.protocol || url.port !== pub.port) return false;
    // A name the Host parser would refuse ("a..corp.example") is no host Gatehouse serves.
    const host = parseHost(url.hostname);
    return host.ok && host.port === undefined && served(host.host);
  };

  return (rd) => {
    if (!rd || rd.length > 4096 || FORBIDDEN.test(rd)) return FALLBACK;
    // Refuse anything that only becomes dangerous after one more decoding step.
    let decoded = rd;
    try {
      decoded = decodeURIComponent(rd);
    } catch {
      return FALLBACK;
    }
    if (FORBIDDEN.test(decoded) || decoded.startsWith('//') || /^\/[\\/]/.test(decoded)) return FALLBACK;

    if (rd.startsWith('/')) {
      if (rd.startsWith('//')) return FALLBACK;
      const u = new URL(rd, INTERNAL_BASE);
      if (u.origin !== INTERNAL_BASE) return FALLBACK;
      // Dot segments can leave "//host" behind ("/.//evil.com" → "//evil.com"): a browser would
      // read that as another site.
      if (u.pathname.startsWith('//')) return FALLBACK;
      return `${u.pathname}${u.search}${u.hash}`;
    }
    if (!URL.canParse(rd)) return FALLBACK;
    const u = new URL(rd);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return FALLBACK;
    // "https:evil.com" parses with host "evil.com": the host check below refuses it.
    if (u.username || u.password || !rd.toLowerCase().startsWith(`${u.protocol}//`)) return FALLBACK;
    if (!originAllowed(u)) return FALLBACK;
    return u.href;
  };
}
