// Route selection, compiled once per config: exact host first, then the longest matching
// "*.suffix" wildcard, then routes without a host; within a host, the longest path prefix wins.
// Prefixes match on whole segments: "/api" matches "/api" and "/api/x", never "/apix".
// Prefixes are compared with the request's canonical policy path (route/canonical.ts), case-folded
// for routes with case_insensitive_paths: routing must see "/RADMIN" and "/radmin;x" as "/radmin"
// whenever the rules would, or a stricter route on a sub-path is skipped for a catch-all.
import type { RouteConfig } from '../config/compile.ts';
import { foldCase, policyPath } from './canonical.ts';
import { createHostIndex } from './hosts.ts';

export interface RouteTable {
  /** `host` is lower-case without port; `path` is one reading of the path (not case-folded). */
  match(host: string, path: string): RouteConfig | undefined;
  /**
   * The route every reading (route/canonical.ts policyReadings) selects, or "ambiguous" when they
   * disagree: some upstream would read the path as belonging to another application.
   */
  matchReadings(host: string, readings: readonly string[]): RouteConfig | undefined | 'ambiguous';
  /** Some route serves this host (on some path): Gatehouse's own endpoints answer there. */
  servesHost(host: string): boolean;
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
  const anyHost: Entry[] = [];
  const withHost: [string, Entry][] = [];
  const entries = routes.map((r): Entry => {
    const canonical = policyPath(r.path);
    return { route: r, prefix: r.caseInsensitivePaths ? foldCase(canonical) : canonical, fold: r.caseInsensitivePaths };
  });
  // Longest prefix first (a stable sort: config order among equals), so every bucket is in order.
  entries.sort((a, b) => b.prefix.length - a.prefix.length);
  for (const e of entries) {
    if (e.route.host === undefined) anyHost.push(e);
    else withHost.push([e.route.host, e]);
  }
  // Exact host first, then the longest matching wildcard (route/hosts.ts).
  const hosts = createHostIndex(withHost);

  const table: RouteTable = {
    servesHost(host) {
      return anyHost.length > 0 || hosts.lookup(host).length > 0;
    },
    matchReadings(host, readings) {
      const first = table.match(host, readings[0]!);
      for (let i = 1; i < readings.length; i++) if (table.match(host, readings[i]!) !== first) return 'ambiguous';
      return first;
    },
    match(host, path) {
      const paths = { exact: path, folded: undefined as string | undefined };
      for (const bucket of hosts.lookup(host)) {
        const r = matchPrefix(bucket, paths);
        if (r) return r;
      }
      return matchPrefix(anyHost, paths);
    },
  };
  return table;
}

function matchPrefix(bucket: Bucket, paths: { exact: string; folded: string | undefined }): RouteConfig | undefined {
  for (const e of bucket) {
    const p = e.prefix;
    if (p === '/') return e.route;
    const path = e.fold ? (paths.folded ??= foldCase(paths.exact)) : paths.exact;
    if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47 /* / */)) return e.route;
  }
  return undefined;
}
