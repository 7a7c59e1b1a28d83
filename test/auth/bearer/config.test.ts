// The bearer keys of identity_providers[oidc]: introspection and bearer_userinfo are opt-in, need
// bearer_audiences, and cache for a bounded time (1s to 1h).
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../../src/config/compile.ts';
import type { OidcProviderConfig } from '../../../src/config/types.ts';
import { ConfigError } from '../../../src/errors.ts';

const config = (provider: Record<string, unknown>) => ({
  server: { public_url: 'http://127.0.0.1:4180' },
  session: { secret: 'bearer-config-session-secret-0123456789abcdef' },
  identity_providers: [{ id: 'corp', type: 'oidc', issuer: 'http://127.0.0.1:9', client_id: 'a', client_secret: 'b', ...provider }],
  routes: [{ name: 'app', upstream: 'http://127.0.0.1:5000', allow: { authenticated: true } }],
});

const oidc = (provider: Record<string, unknown>) => compileConfig(config(provider)).config.identityProviders[0] as OidcProviderConfig;

function problems(provider: Record<string, unknown>): { path: string; message: string }[] {
  try {
    compileConfig(config(provider));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('compileConfig should have refused the config');
}

describe('identity_providers[oidc] bearer keys', () => {
  it('are off unless enabled', () => {
    const p = oidc({ bearer_audiences: ['api'] });
    expect(p.introspection).toBeUndefined();
    expect(p.bearerUserinfo).toBeUndefined();
    expect(oidc({ bearer_audiences: ['api'], introspection: { enabled: false }, bearer_userinfo: {} }).introspection).toBeUndefined();
  });

  it('compile to cache lifetimes (defaults 60s and 5m)', () => {
    const p = oidc({ bearer_audiences: ['api'], introspection: { enabled: true }, bearer_userinfo: { enabled: true } });
    expect(p.introspection).toEqual({ cacheTtlMs: 60_000 });
    expect(p.bearerUserinfo).toEqual({ cacheTtlMs: 300_000 });
    expect(oidc({ bearer_audiences: ['api'], introspection: { enabled: true, cache_ttl: '15s' } }).introspection).toEqual({
      cacheTtlMs: 15_000,
    });
  });

  it('need bearer_audiences (which tokens the IdP may vouch for)', () => {
    const found = problems({ introspection: { enabled: true }, bearer_userinfo: { enabled: true } });
    expect(
      found
        .filter((p) => p.message.includes('bearer_audiences'))
        .map((p) => p.path)
        .sort(),
    ).toEqual(['identity_providers[0].bearer_userinfo', 'identity_providers[0].introspection']);
  });

  it('bound the cache between 1s and 1h', () => {
    expect(problems({ bearer_audiences: ['api'], introspection: { enabled: true, cache_ttl: '2h' } }).map((p) => p.path)).toEqual([
      'identity_providers[0].introspection.cache_ttl',
    ]);
    expect(problems({ bearer_audiences: ['api'], bearer_userinfo: { enabled: true, cache_ttl: '500ms' } }).map((p) => p.path)).toEqual([
      'identity_providers[0].bearer_userinfo.cache_ttl',
    ]);
  });

  it('routes[].bearer_header defaults to any; proxy_authorization gives Authorization to the tool', () => {
    const routes = (extra: Record<string, unknown>) =>
      compileConfig({
        ...config({ bearer_audiences: ['api'] }),
        routes: [{ name: 'app', upstream: 'http://127.0.0.1:5000', allow: { authenticated: true }, ...extra }],
      }).config.routes[0]!;
    expect(routes({}).bearerHeader).toBe('any');
    expect(routes({ bearer_header: 'proxy_authorization' }).bearerHeader).toBe('proxy_authorization');
    expect(() => routes({ bearer_header: 'authorization-only' })).toThrow(ConfigError);
  });

  it('refuse unknown keys inside the blocks', () => {
    expect(
      problems({ bearer_audiences: ['api'], introspection: { enabled: true, endpoint: 'http://x' } })
        .map((p) => p.path)
        .join(),
    ).toContain('introspection');
  });
});
