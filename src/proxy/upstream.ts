// One keep-alive undici Pool per upstream origin, built with the runtime and closed with it, and in
// front of it one gate per route: at most `max_connections` of the route's requests hold an
// upstream connection, at most `max_queue` wait for one, none waits longer than the route's
// `timeout`. undici's Pool has a connection limit (`connections`) but no bound on the requests
// queued behind it, so a slow client per connection could otherwise stall a route for ever.
// The pool's limit is the sum of its routes' limits: the gates, not the pool, decide who waits.
import { Pool, type Dispatcher } from 'undici';
import type { RouteConfig } from '../config/types.ts';

/** A route's share of its upstream's pool. */
export interface RouteUpstream {
  readonly dispatcher: Dispatcher;
  /**
   * Take one of the route's connections: `go` runs now, or when one frees up; `busy` runs instead
   * when the queue is full or nothing frees up within `waitMs`. Returns `leave`, to call once the
   * request is over (or the client went away): it frees the connection or leaves the queue.
   */
  enter(go: () => void, busy: () => void, waitMs: number): () => void;
  /** Requests holding a connection, and waiting for one (metrics, tests). */
  readonly active: number;
  readonly queued: number;
}

export interface Upstreams {
  pool(route: RouteConfig): RouteUpstream;
  /** Pools by origin (a reload takes over the ones it still needs). */
  readonly pools: ReadonlyMap<string, Pool>;
  /** Let in-flight requests finish, then close every connection — except pools in `keep`. */
  close(keep?: ReadonlyMap<string, Pool>): Promise<void>;
}

interface Waiter {
  readonly go: () => void;
  readonly busy: () => void;
  timer: NodeJS.Timeout | undefined;
  state: 'waiting' | 'running' | 'done';
}

function createGate(dispatcher: Dispatcher, max: number, maxQueue: number): RouteUpstream {
  let active = 0;
  // Insertion order is arrival order; a Set lets a client that leaves drop out in O(1).
  const queue = new Set<Waiter>();
  const next = () => {
    while (active < max) {
      const w = queue.values().next().value;
      if (!w) return;
      queue.delete(w);
      clearTimeout(w.timer);
      w.state = 'running';
      active++;
      // Not from inside the finishing request's callbacks.
      queueMicrotask(() => {
        if (w.state === 'running') w.go();
      });
    }
  };
  return {
    dispatcher,
    get active() {
      return active;
    },
    get queued() {
      return queue.size;
    },
    enter(go, busy, waitMs) {
      const w: Waiter = { go, busy, timer: undefined, state: 'waiting' };
      const leave = () => {
        if (w.state === 'running') {
          w.state = 'done';
          active--;
          next();
        } else if (w.state === 'waiting') {
          w.state = 'done';
          queue.delete(w);
          clearTimeout(w.timer);
        }
      };
      if (active < max && queue.size === 0) {
        w.state = 'running';
        active++;
        go();
        return leave;
      }
      if (queue.size >= maxQueue) {
        w.state = 'done';
        busy();
        return leave;
      }
      w.timer = setTimeout(() => {
        if (w.state !== 'waiting') return;
        w.state = 'done';
        queue.delete(w);
        busy();
      }, waitMs);
      queue.add(w);
      return leave;
    },
  };
}

/** What a pool was built for: reused by a reload only when its routes' limits are unchanged. */
const poolShapes = new WeakMap<Pool, { readonly shape: string; readonly gates: ReadonlyMap<string, RouteUpstream> }>();

const gateKey = (r: RouteConfig) => `${r.name} ${r.maxConnections} ${r.maxQueue}`;

export function createUpstreams(routes: readonly RouteConfig[], previous?: Upstreams): Upstreams {
  const byOrigin = new Map<string, RouteConfig[]>();
  for (const r of routes) {
    const list = byOrigin.get(r.upstream.origin);
    if (list) list.push(r);
    else byOrigin.set(r.upstream.origin, [r]);
  }
  const pools = new Map<string, Pool>();
  const gates = new Map<string, RouteUpstream>();
  for (const [origin, list] of byOrigin) {
    const shape = list.map(gateKey).sort().join('\n');
    // A reload keeps the pool (and the gates, with their counts) of an upstream whose routes and
    // limits are unchanged: requests that started on the old config are still using them.
    const old = previous?.pools.get(origin);
    const kept = old ? poolShapes.get(old) : undefined;
    if (old && kept?.shape === shape) {
      pools.set(origin, old);
      for (const r of list) gates.set(r.name, kept.gates.get(r.name)!);
      continue;
    }
    const pool = new Pool(origin, {
      // Generous keep-alive reuse; upstreams that close idle sockets sooner say so via Keep-Alive.
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connectTimeout: 10_000,
      pipelining: 1,
      connections: list.reduce((n, r) => n + r.maxConnections, 0),
    });
    const own = new Map(list.map((r) => [r.name, createGate(pool, r.maxConnections, r.maxQueue)] as const));
    poolShapes.set(pool, { shape, gates: own });
    pools.set(origin, pool);
    for (const [name, g] of own) gates.set(name, g);
  }
  return {
    pools,
    pool(route) {
      return gates.get(route.name)!;
    },
    async close(keep) {
      await Promise.all([...pools].filter(([origin, p]) => keep?.get(origin) !== p).map(([, p]) => p.close()));
    },
  };
}
