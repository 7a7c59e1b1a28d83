// Where a browser may be sent after sign-in (`rd`): a path on this host, or an absolute http(s)
// URL on a host that a route serves. Everything else — protocol-relative "//evil", "/\evil",
// "https:evil", "javascript:", control characters, encoded tricks that decode to any of these —
// falls back to "/". Decided from config once; the check itself is pure.
import type { Config } from '../config/compile.ts';

const FALLBACK = '/';
const INTERNAL_BASE = 'http://gatehouse.internal';
// Backslashes are read as slashes by browsers; control characters and whitespace have no place here.
const FORBIDDEN = /[\\\u0000-\u001f\u007f\s]/;

export type ReturnUrlCheck = (rd: string | null | undefined) => string;

export function createReturnUrlCheck(config: Config): ReturnUrlCheck {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  exact.add(new URL(config.server.publicUrl).host.toLowerCase());
  for (const r of config.routes) {
    if (r.host === undefined) continue;
    if (r.host.startsWith('*.')) suffixes.push(r.host.slice(1));
    else exact.add(r.host);
  }
  const hostAllowed = (url: URL) => {
    const host = url.hostname.toLowerCase();
    return exact.has(url.host.toLowerCase()) || exact.has(host) || suffixes.some((s) => host.length > s.length && host.endsWith(s));
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
    if (!hostAllowed(u)) return FALLBACK;
    if (!config.devMode && u.protocol === 'http:') return FALLBACK;
    return u.href;
  };
}
