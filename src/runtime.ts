// Everything derived from one Config, compiled once: route table, client resolver, upstream pools,
// WebSocket proxy. A request takes `current()` once and uses that snapshot to the end, so a reload
// (issue #8) can swap the whole Runtime without mixing configs inside one request.
import { createIdentityProviders, type IdentityProviders } from './auth/providers.ts';
import type { Config } from './config/compile.ts';
import type { Logger } from './log.ts';
import { createSessions } from './session/create.ts';
import type { SessionManager } from './session/manager.ts';
import { createUpstreams, type Upstreams } from './proxy/upstream.ts';
import { createWebSocketProxy, type WebSocketProxy } from './proxy/websocket.ts';
import { createClientResolver, type ClientResolver } from './server/forwarded.ts';
import { createRouteTable, type RouteTable } from './route/table.ts';

export interface Runtime {
  readonly config: Config;
  readonly routes: RouteTable;
  readonly resolveClient: ClientResolver;
  readonly upstreams: Upstreams;
  readonly websockets: WebSocketProxy;
  readonly sessions: SessionManager;
  readonly providers: IdentityProviders;
  /** Close upstream connections after in-flight requests finish. */
  close(): Promise<void>;
}

export interface RuntimeParts {
  /** Reuse a session manager (tests inject one with a fake clock; reloads keep the store). */
  readonly sessions?: SessionManager;
}

export function buildRuntime(config: Config, log: Logger, parts: RuntimeParts = {}): Runtime {
  const upstreams = createUpstreams(config.routes);
  const websockets = createWebSocketProxy();
  const sessions = parts.sessions ?? createSessions(config.session, log);
  const providers = createIdentityProviders(config, sessions, log);
  return Object.freeze({
    config,
    routes: createRouteTable(config.routes),
    resolveClient: createClientResolver(config.server.trustedProxies),
    upstreams,
    websockets,
    sessions,
    providers,
    async close() {
      providers.close();
      websockets.close();
      await Promise.all([upstreams.close(), sessions.close()]);
    },
  });
}
