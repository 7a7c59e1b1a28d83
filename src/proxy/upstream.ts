// One keep-alive undici Pool per upstream origin, built with the runtime and closed with it.
import { Pool } from 'undici';
import type { RouteConfig } from '../config/compile.ts';

export interface Upstreams {
  pool(route: RouteConfig): Pool;
  /** Pools by origin (a reload takes over the ones it still needs). */
  readonly pools: ReadonlyMap<string, Pool>;
  /** Let in-flight requests finish, then close every connection — except pools in `keep`. */
  close(keep?: ReadonlyMap<string, Pool>): Promise<void>;
}

export function createUpstreams(routes: readonly RouteConfig[], previous?: Upstreams): Upstreams {
  const pools = new Map<string, Pool>();
  for (const r of routes) {
    const origin = r.upstream.origin;
    // A reload keeps the pool of an upstream that is still there: requests that started on the
    // old config are still using it.
    const old = previous?.pools.get(origin);
    if (old && !pools.has(origin)) pools.set(origin, old);
    if (!pools.has(origin)) {
      pools.set(origin, new Pool(origin, {
        // Generous keep-alive reuse; upstreams that close idle sockets sooner say so via Keep-Alive.
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connectTimeout: 10_000,
        pipelining: 1,
      }));
    }
  }
  return {
    pools,
    pool(route) {
      return pools.get(route.upstream.origin)!;
    },
    async close(keep) {
      await Promise.all([...pools].filter(([origin, p]) => keep?.get(origin) !== p).map(([, p]) => p.close()));
    },
  };
}
