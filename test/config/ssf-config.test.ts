// The `ssf` section: validated once at load, every problem named by its key path; defaults filled
// in; absent = the receiver is off.
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';

const TX = { issuer: 'https://corp.okta.test', jwks_url: 'https://corp.okta.test/oauth2/v1/keys', audience: 'https://gatehouse.test/ssf' };

function raw(ssf: unknown, publicUrl = 'https://gatehouse.test'): Record<string, unknown> {
  return {
    server: { public_url: publicUrl },
    session: { store: 'memory', secret: 'f8Kq2Lx9Vb3Nm7Zr1Tc5Yw0Pd4Hs6Jg-ssf' },
    routes: [{ name: 'app', upstream: 'http://127.0.0.1:5000', allow: { public: true } }],
    ...(ssf === undefined ? {} : { ssf }),
  };
}

function problems(input: unknown): { path: string; message: string }[] {
  try {
    compileConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('config ssf', () => {
  it('absent: the receiver is off', () => {
    expect(compileConfig(raw(undefined)).config.ssf).toBeUndefined();
  });

  it('defaults: subject email, every asymmetric algorithm, max_age 10m, 64 KiB, 600 per minute', () => {
    expect(compileConfig(raw({ transmitters: [TX] })).config.ssf).toEqual({
      transmitters: [
        {
          issuer: TX.issuer,
          jwksUrl: TX.jwks_url,
          audience: TX.audience,
          subject: 'email',
          algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'],
        },
      ],
      maxAgeMs: 600_000,
      maxBodyBytes: 65_536,
      ratePerMinute: 600,
    });
  });

  it.each([
    ['no transmitters', { transmitters: [] }, 'ssf.transmitters', ''],
    ['a transmitter without audience', { transmitters: [{ ...TX, audience: undefined }] }, 'ssf.transmitters[0].audience', 'required'],
    ['an unknown key', { transmitters: [{ ...TX, jwks_uri: TX.jwks_url }] }, 'ssf.transmitters[0].jwks_uri', 'unknown key'],
    [
      'plain-http JWKS off loopback',
      { transmitters: [{ ...TX, jwks_url: 'http://corp.okta.test/keys' }] },
      'ssf.transmitters[0].jwks_url',
      'https://',
    ],
    ['a JWKS URL that is not a URL', { transmitters: [{ ...TX, jwks_url: 'keys.json' }] }, 'ssf.transmitters[0].jwks_url', 'not a URL'],
    ['an unknown subject mapping', { transmitters: [{ ...TX, subject: 'phone_number' }] }, 'ssf.transmitters[0].subject', ''],
    ['"none" as an algorithm', { transmitters: [{ ...TX, algorithms: ['none'] }] }, 'ssf.transmitters[0].algorithms[0]', ''],
    ['HS256 as an algorithm', { transmitters: [{ ...TX, algorithms: ['HS256'] }] }, 'ssf.transmitters[0].algorithms[0]', ''],
    ['two transmitters with one issuer', { transmitters: [TX, TX] }, 'ssf.transmitters[1].issuer', 'same issuer'],
    ['max_age too short', { transmitters: [TX], max_age: '5s' }, 'ssf.max_age', 'between 30s and 1d'],
    ['max_body too small', { transmitters: [TX], max_body: 10 }, 'ssf.max_body', ''],
  ])('refuses %s, naming the key', (_name, ssf, path, fragment) => {
    const found = problems(raw(ssf));
    expect(
      found.some((p) => p.path === path && p.message.includes(fragment)),
      JSON.stringify(found),
    ).toBe(true);
  });

  it('plain-http JWKS on loopback is accepted in dev mode only', () => {
    const loopback = { transmitters: [{ ...TX, jwks_url: 'http://127.0.0.1:9000/keys' }] };
    expect(compileConfig(raw(loopback, 'http://127.0.0.1:4180')).config.ssf?.transmitters[0]?.jwksUrl).toBe('http://127.0.0.1:9000/keys');
    expect(problems(raw(loopback)).map((p) => p.path)).toEqual(['ssf.transmitters[0].jwks_url']);
  });
});
