// Route selection, compiled once per config: exact host first, then the longest matching
// "*.suffix" wildcard, then routes without a host; within a host, the longest path prefix wins.
// Prefixes match on whole segments: "/api" matches "/api" and "/api/x", never "/apix".
// Prefixes are compared with the request's canonical policy path (route/canonical.ts), case-folded
// for routes with case_insensitive_paths: routing must see "/RADMIN" and "/radmin;x" as "/radmin"
// whenever the rules would, or a stricter route on a sub-path is skipped for a catch-all.
// Each route travels with what was compiled for it at load (its plan: runtime.ts RoutePlan), so
// the request walk never looks a route up again by name.
import type { RouteConfig } from '../config/types.ts';
import { foldCase, policyPath } from './canonical.ts';
import { createHostIndex } from './hosts.ts';

/** A matched route and its plan (compiled once at load; the same object on every match). */
export interface RouteMatch<P> {
  readonly route: RouteConfig;
  readonly plan: P;
}

export interface RouteTable<P = unknown> {
  /** `host` is lower-case without port; `path` is one reading of the path (not case-folded). */
  match(host: string, path: string): RouteConfig | undefined;
  /**
   * The route every reading (route/canonical.ts policyReadings) selects, or "ambiguous" when they
   * disagree: some upstream would read the path as belonging to another application.
   */
  matchReadings(host: string, readings: readonly string[]): RouteConfig | undefined | 'ambiguous';
  /** As matchReadings, with the route's plan. */
  select(host: string, readings: readonly string[]): RouteMatch<P> | undefined | 'ambiguous';
  /** Some route serves this host (on some path): Gatehouse's own endpoints answer there. */
  servesHost(host: string): boolean;
}

interface Entry<P> extends RouteMatch<P> {
  /** Canonical prefix, lower-cased when the route folds case. */
  readonly prefix: string;
  readonly fold: boolean;
}

/** Routes of one host bucket, longest prefix first. */
type Bucket<P> = readonly Entry<P>[];

/** `planFor` compiles each route's plan once, here; without it plans are undefined. */
export function createRouteTable<P = undefined>(routes: readonly RouteConfig[], planFor?: (route: RouteConfig) => P): RouteTable<P> {
  const anyHost: Entry<P>[] = [];
  const withHost: [string, Entry<P>][] = [];
  const entries = routes.map((r): Entry<P> => {
    const canonical = policyPath(r.path);
    return {
      route: r,
      plan: planFor ? planFor(r) : (undefined as P),
      prefix: r.caseInsensitivePaths ? foldCase(canonical) : canonical,
      fold: r.caseInsensitivePaths,
    };
  });
  // Longest prefix first (a stable sort: config order among equals), so every bucket is in order.
  entries.sort((a, b) => b.prefix.length - a.prefix.length);
  for (const e of entries) {
    if (e.route.host === undefined) anyHost.push(e);
    else withHost.push([e.route.host, e]);
  }
  // Exact host first, then the longest matching wildcard (route/hosts.ts).
  const hosts = createHostIndex(withHost);

  const find = (host: string, path: string): Entry<P> | undefined => {
    const paths = { exact: path, folded: undefined as string | undefined };
    for (const bucket of hosts.lookup(host)) {
      const r = matchPrefix(bucket, paths);
      if (r) return r;
    }
    return matchPrefix(anyHost, paths);
  };
  const select = (host: string, readings: readonly string[]): Entry<P> | undefined | 'ambiguous' => {
    const first = find(host, readings[0]!);
    for (let i = 1; i < readings.length; i++) if (find(host, readings[i]!) !== first) return 'ambiguous';
    return first;
  };
  return {
    servesHost(host) {
      return anyHost.length > 0 || hosts.lookup(host).length > 0;
    },
    select,
    matchReadings(host, readings) {
      const m = select(host, readings);
      return m === 'ambiguous' ? m : m?.route;
    },
    match(host, path) {
      return find(host, path)?.route;
    },
  };
}

function matchPrefix<P>(bucket: Bucket<P>, paths: { exact: string; folded: string | undefined }): Entry<P> | undefined {
  for (const e of bucket) {
    const p = e.prefix;
    if (p === '/') return e;
    const path = e.fold ? (paths.folded ??= foldCase(paths.exact)) : paths.exact;
    if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47) /* / */) return e;
  }
  return undefined;
}
