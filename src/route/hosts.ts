// Matching a request's host against configured host names: exact names and "*.suffix" wildcards.
// One implementation for the route table, the hosts forward-auth may describe (runtime
// servedHosts) and the hosts a return URL may name (auth/return-url.ts), so that they cannot
// disagree about which hosts Gatehouse serves.
//
// Configured names go through the same parser as request hosts (route/host.ts), so comparing is
// comparing canonical forms; a name that parser refuses (a trailing dot, a label over 63
// characters) matches nothing rather than something else. "*.corp.example" matches any name that
// ends in ".corp.example" with at least one character before it ("a.corp.example",
// "a.b.corp.example"), never "corp.example" itself. Callers pass hosts already parsed by
// route/host.ts (lower-case, no port, IPv6 in brackets).
import { parseHost } from './host.ts';

export type HostPattern =
  | { readonly kind: 'exact'; readonly host: string }
  | { readonly kind: 'suffix' /** ".corp.example" */; readonly suffix: string };

/** A configured host name ("app.corp.example" or "*.corp.example"), or undefined when it cannot name any host. */
export function parseHostPattern(name: string): HostPattern | undefined {
  const wildcard = name.startsWith('*.');
  const p = parseHost(wildcard ? name.slice(2) : name);
  if (!p.ok || p.port !== undefined) return undefined;
  return wildcard ? { kind: 'suffix', suffix: `.${p.host}` } : { kind: 'exact', host: p.host };
}

export interface HostIndex<T> {
  /**
   * The values of every pattern that matches `host`, grouped per pattern and most specific first:
   * the exact name, then wildcards by longest suffix ("*.a.corp.example" before "*.corp.example").
   */
  lookup(host: string): readonly (readonly T[])[];
}

/** Values keyed by host pattern; values of the same pattern share one group, in the order given. */
export function createHostIndex<T>(entries: Iterable<readonly [name: string, value: T]>): HostIndex<T> {
  const exact = new Map<string, T[]>();
  const bySuffix = new Map<string, T[]>();
  for (const [name, value] of entries) {
    const p = parseHostPattern(name);
    if (p === undefined) continue;
    const map = p.kind === 'exact' ? exact : bySuffix;
    const key = p.kind === 'exact' ? p.host : p.suffix;
    const group = map.get(key);
    if (group) group.push(value);
    else map.set(key, [value]);
  }
  const wildcards = [...bySuffix.entries()].sort((a, b) => b[0].length - a[0].length);
  const matching = (host: string): T[][] => {
    const out: T[][] = [];
    const e = exact.get(host);
    if (e) out.push(e);
    for (const [suffix, group] of wildcards) if (host.length > suffix.length && host.endsWith(suffix)) out.push(group);
    return out;
  };
  // Every request looks its host up: the answer for each configured name is worked out here, once,
  // and a host no pattern can match (no wildcards) shares one empty answer.
  const known = new Map([...exact.keys()].map((h) => [h, matching(h)] as const));
  const none: readonly (readonly T[])[] = [];
  return {
    lookup(host) {
      return known.get(host) ?? (wildcards.length === 0 ? none : matching(host));
    },
  };
}

/** Does any of `hosts` (exact names and "*.suffix" wildcards) match a parsed request host? */
export function createHostMatcher(hosts: Iterable<string>): (host: string) => boolean {
  const index = createHostIndex([...hosts].map((h) => [h, true] as const));
  return (host) => index.lookup(host).length > 0;
}
