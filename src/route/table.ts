// Route selection, compiled once per config: exact host first, then the longest matching
// "*.suffix" wildcard, then routes without a host; within a host, the longest path prefix wins.
// Prefixes match on whole segments: "/api" matches "/api" and "/api/x", never "/apix".
// Prefixes are compared with the request's canonical policy path (route/canonical.ts), case-folded
// for routes with case_insensitive_paths: routing must see "/RADMIN" and "/radmin;x" as "/radmin"
// whenever the rules would, or a stricter route on a sub-path is skipped for a catch-all.
import type { RouteConfig } from '../config/compile.ts';
import { policyPath } from './canonical.ts';

export interface RouteTable {
  /** `host` is lower-case without port; `path` is the canonical policy path (not case-folded). */
  match(host: string, path: string): RouteConfig | undefined;
}

interface Entry {
  readonly route: RouteConfig;
  /** Canonical prefix, lower-cased when the route folds case. */
  readonly prefix: string;
  readonly fold: boolean;
}

/** Routes of one host bucket, longest prefix first. */
type Bucket = readonly Entry[];

export function createRouteTable(routes: readonly RouteConfig[]): RouteTable {
  const exact = new Map<string, Entry[]>();
  const wildcards = new Map<string, Entry[]>(); // key: ".corp.example"
  const anyHost: Entry[] = [];
  for (const r of routes) {
    const canonical = policyPath(r.path);
    const e: Entry = { route: r, prefix: r.caseInsensitivePaths ? canonical.toLowerCase() : canonical, fold: r.caseInsensitivePaths };
    if (r.host === undefined) anyHost.push(e);
    else if (r.host.startsWith('*.')) push(wildcards, r.host.slice(1), e);
    else push(exact, r.host, e);
  }
  const byPrefixLength = (a: Entry, b: Entry) => b.prefix.length - a.prefix.length;
  for (const list of exact.values()) list.sort(byPrefixLength);
  for (const list of wildcards.values()) list.sort(byPrefixLength);
  anyHost.sort(byPrefixLength);
  // Longest suffix first, so "*.a.corp.example" beats "*.corp.example".
  const wildcardList: [string, Bucket][] = [...wildcards.entries()].sort((a, b) => b[0].length - a[0].length);

  return {
    match(host, path) {
      const paths = { exact: path, folded: undefined as string | undefined };
      const e = exact.get(host);
      if (e) {
        const r = matchPrefix(e, paths);
        if (r) return r;
      }
      for (const [suffix, bucket] of wildcardList) {
        // "*.corp.example" matches "a.corp.example" but not "corp.example" itself.
        if (host.length > suffix.length && host.endsWith(suffix)) {
          const r = matchPrefix(bucket, paths);
          if (r) return r;
        }
      }
      return matchPrefix(anyHost, paths);
    },
  };
}

function push(map: Map<string, Entry[]>, key: string, r: Entry): void {
  const list = map.get(key);
  if (list) list.push(r);
  else map.set(key, [r]);
}

function matchPrefix(bucket: Bucket, paths: { exact: string; folded: string | undefined }): RouteConfig | undefined {
  for (const e of bucket) {
    const p = e.prefix;
    if (p === '/') return e.route;
    const path = e.fold ? (paths.folded ??= paths.exact.toLowerCase()) : paths.exact;
    if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47 /* / */)) return e.route;
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
