// Route selection, compiled once per config: exact host first, then the longest matching
// "*.suffix" wildcard, then routes without a host; within a host, the longest path prefix wins.
// Prefixes match on whole segments: "/api" matches "/api" and "/api/x", never "/apix".
import type { RouteConfig } from '../config/compile.ts';

export interface RouteTable {
  /** `host` is lower-case without port; `path` is already normalised. */
  match(host: string, path: string): RouteConfig | undefined;
}

/** Routes of one host bucket, longest prefix first. */
type Bucket = readonly RouteConfig[];

export function createRouteTable(routes: readonly RouteConfig[]): RouteTable {
  const exact = new Map<string, RouteConfig[]>();
  const wildcards = new Map<string, RouteConfig[]>(); // key: ".corp.example"
  const anyHost: RouteConfig[] = [];
  for (const r of routes) {
    if (r.host === undefined) anyHost.push(r);
    else if (r.host.startsWith('*.')) push(wildcards, r.host.slice(1), r);
    else push(exact, r.host, r);
  }
  const byPrefixLength = (a: RouteConfig, b: RouteConfig) => b.path.length - a.path.length;
  for (const list of exact.values()) list.sort(byPrefixLength);
  for (const list of wildcards.values()) list.sort(byPrefixLength);
  anyHost.sort(byPrefixLength);
  // Longest suffix first, so "*.a.corp.example" beats "*.corp.example".
  const wildcardList: [string, Bucket][] = [...wildcards.entries()].sort((a, b) => b[0].length - a[0].length);

  return {
    match(host, path) {
      const e = exact.get(host);
      if (e) {
        const r = matchPrefix(e, path);
        if (r) return r;
      }
      for (const [suffix, bucket] of wildcardList) {
        // "*.corp.example" matches "a.corp.example" but not "corp.example" itself.
        if (host.length > suffix.length && host.endsWith(suffix)) {
          const r = matchPrefix(bucket, path);
          if (r) return r;
        }
      }
      return matchPrefix(anyHost, path);
    },
  };
}

function push(map: Map<string, RouteConfig[]>, key: string, r: RouteConfig): void {
  const list = map.get(key);
  if (list) list.push(r);
  else map.set(key, [r]);
}

function matchPrefix(bucket: Bucket, path: string): RouteConfig | undefined {
  for (const r of bucket) {
    const p = r.path;
    if (p === '/') return r;
    if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47 /* / */)) return r;
  }
  return undefined;
}

/** Host header → lower-case host without port ("" when absent or malformed). */
export function hostOf(header: string | undefined): string {
  if (!header) return '';
  if (header.charCodeAt(0) === 91 /* [ */) {
    const end = header.indexOf(']');
    return end === -1 ? '' : header.slice(0, end + 1).toLowerCase();
  }
  const colon = header.indexOf(':');
  return (colon === -1 ? header : header.slice(0, colon)).toLowerCase();
}
