// When a session goes back to the IdP: token expiry, ID token expiry or revalidate_interval,
// whichever comes first — and never without a refresh token to redeem.
import { describe, expect, it } from 'vitest';
import type { IDToken } from 'openid-client';
import { nextRefreshAt } from '../../../src/auth/oidc/token-times.ts';
import type { OidcProviderConfig } from '../../../src/config/types.ts';

const NOW = 1_800_000_000_000;
const cfg = (revalidateMs?: number) => ({ revalidateMs }) as OidcProviderConfig;
const idToken = (expSec: number) => ({ exp: expSec }) as IDToken;

describe('nextRefreshAt', () => {
  it('is the access token expiry when nothing comes sooner', () => {
    expect(nextRefreshAt({ refresh_token: 'r', expires_in: 300 }, idToken(NOW / 1000 + 3600), cfg(), NOW)).toBe(NOW + 300_000);
  });

  it('is the ID token expiry when that comes first', () => {
    expect(nextRefreshAt({ refresh_token: 'r', expires_in: 3600 }, idToken(NOW / 1000 + 120), cfg(), NOW)).toBe(NOW + 120_000);
  });

  it('honours revalidate_interval for long-lived tokens', () => {
    expect(nextRefreshAt({ refresh_token: 'r', expires_in: 86_400 }, idToken(NOW / 1000 + 86_400), cfg(600_000), NOW)).toBe(NOW + 600_000);
    expect(nextRefreshAt({ refresh_token: 'r' }, undefined, cfg(600_000), NOW)).toBe(NOW + 600_000);
  });

  it('never schedules a refresh without a refresh token, or with nothing to go by', () => {
    expect(nextRefreshAt({ expires_in: 60 }, idToken(NOW / 1000 + 60), cfg(1000), NOW)).toBeUndefined();
    expect(nextRefreshAt({ refresh_token: 'r' }, undefined, cfg(), NOW)).toBeUndefined();
  });
});
