// One keep-alive undici Pool per upstream origin, built with the runtime and closed with it.
import { Pool } from 'undici';
import type { RouteConfig } from '../config/compile.ts';

export interface Upstreams {
  pool(route: RouteConfig): Pool;
  /** Let in-flight requests finish, then close every connection. */
  close(): Promise<void>;
}

export function createUpstreams(routes: readonly RouteConfig[]): Upstreams {
  const pools = new Map<string, Pool>();
  for (const r of routes) {
    const origin = r.upstream.origin;
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
    pool(route) {
      return pools.get(route.upstream.origin)!;
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}
