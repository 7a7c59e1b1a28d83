// tokens.pat and identity_providers[].service_accounts: safe defaults, and bad values refused with
// the key named.
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const problemsOf = (raw: unknown) => {
  try {
    compileConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('compileConfig should have thrown');
};

describe('tokens.pat', () => {
  it('defaults: on, 30 days by default, at most 90, 20 live and 10 new per hour per user, groups as captured', () => {
    expect(compileConfig(baseConfig()).config.tokens.pat).toEqual({
      enabled: true,
      maxTtlMs: 90 * 86_400_000,
      defaultTtlMs: 30 * 86_400_000,
      maxPerUser: 20,
      createRate: 10,
      recheckGroups: false,
    });
  });

  it('refuses lifetimes out of bounds and unknown keys, naming the key', () => {
    expect(problemsOf({ ...baseConfig(), tokens: { pat: { max_ttl: '400d' } } })).toEqual([
      { path: 'tokens.pat.max_ttl', message: 'must be between 1m and 366d' },
    ]);
    expect(problemsOf({ ...baseConfig(), tokens: { pat: { max_ttl: '7d', default_ttl: '30d' } } })).toEqual([
      { path: 'tokens.pat.default_ttl', message: 'must be between 1m and tokens.pat.max_ttl' },
    ]);
    expect(problemsOf({ ...baseConfig(), tokens: { pat: { forever: true } } })).toEqual([
      { path: 'tokens.pat.forever', message: 'unknown key' },
    ]);
    expect(problemsOf({ ...baseConfig(), tokens: { pat: { create_rate: 0 } } }).map((p) => p.path)).toEqual(['tokens.pat.create_rate']);
  });
});

describe('identity_providers[].service_accounts', () => {
  const oidc = (accounts: unknown) => ({
    ...baseConfig(),
    identity_providers: [
      { id: 'corp', type: 'oidc', issuer: 'https://idp.example', client_id: 'gh', client_secret: 's', service_accounts: accounts },
    ],
  });

  it('compiles to user (optional) and groups (default none) per client id', () => {
    const p = compileConfig(oidc({ etl: { user: 'svc-etl', groups: ['ml'] }, bare: {} })).config.identityProviders[0];
    expect(p?.type === 'oidc' ? p.serviceAccounts : undefined).toEqual({
      etl: { user: 'svc-etl', groups: ['ml'] },
      bare: { user: undefined, groups: [] },
    });
  });

  it('refuses unknown keys and empty groups, naming the key', () => {
    expect(problemsOf(oidc({ etl: { role: 'x' } }))).toEqual([
      { path: 'identity_providers[0].service_accounts.etl.role', message: 'unknown key' },
    ]);
    expect(problemsOf(oidc({ etl: { groups: [''] } })).map((p) => p.path)).toEqual([
      'identity_providers[0].service_accounts.etl.groups[0]',
    ]);
  });
});
