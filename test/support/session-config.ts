// A Gatehouse config with sessions and two routes to one upstream: /pub public, everything else for
// signed-in users. Shared by the small suites that need a session and a public path side by side.
import { redisUrl, uniquePrefix } from './redis.ts';
import { baseConfig, type RawConfigInput } from './start-gatehouse.ts';

export function sessionConfig(up: string, store: 'memory' | 'redis' = 'memory'): RawConfigInput {
  return {
    ...baseConfig(),
    session: {
      store,
      ...(store === 'redis' ? { redis: { url: redisUrl(), key_prefix: uniquePrefix() } } : {}),
      secret: 'hardening-secret-hardening-secret-0123',
      cookie: { secure: false },
    },
    routes: [
      { name: 'pub', path: '/pub', upstream: up, allow: { public: true } },
      { name: 'app', path: '/', upstream: up, allow: { authenticated: true } },
    ],
  };
}
