// Secrets that cannot be placeholders (issue 17): a copied "change-me" or a repeated pattern is
// refused everywhere; a predictable session secret or admin token outside dev mode. The message
// says how to make a real one and never repeats the value.
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';
import { secretProblems } from '../../src/config/secret.ts';

const GOOD = 'Zx8q2LmV7cN4pR9tW1yB6dF3hK5sJ0gA';

function problemsOf(raw: unknown): string[] {
  try {
    compileConfig(raw);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

const base = (publicUrl: string, session: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  server: { public_url: publicUrl },
  session,
  routes: [{ name: 'a', upstream: 'http://127.0.0.1:5000', allow: { public: true } }],
  ...extra,
});

describe('secretProblems', () => {
  it.each([
    'change-me-to-48-random-bytes-openssl-rand-base64-48',
    'CHANGEME-CHANGEME-CHANGEME-CHANGEME',
    'replace-with-openssl-rand-base64-48-and-more-chars',
    'this-is-an-example-session-secret-for-docs',
    'abcabcabcabcabcabcabcabcabcabcabcabc',
  ])('%s is a placeholder, in dev mode too', (secret) => {
    for (const url of ['https://gh.corp.example', 'http://127.0.0.1:4180']) {
      const problems = problemsOf(base(url, { secret }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^session\.secret: looks like a placeholder .*openssl rand -base64 48/);
      expect(problems[0]).not.toContain(secret);
    }
  });

  it('a low-entropy session secret or admin token is refused outside dev mode only', () => {
    const weak = '1212121233334444121212123333444412';
    expect(problemsOf(base('https://gh.corp.example', { secret: weak }))).toEqual([
      'session.secret: too predictable (few distinct characters); generate one with `openssl rand -base64 48`',
    ]);
    expect(problemsOf(base('http://127.0.0.1:4180', { secret: weak }))).toEqual([]);
    expect(problemsOf(base('https://gh.corp.example', { secret: GOOD }, { admin: { token: '0000111100001111' } }))[0]).toMatch(
      /^admin\.token: /,
    );
  });

  it('client secrets, Redis passwords and sink tokens: placeholders only (their issuer chose them)', () => {
    expect(secretProblems({ identity_providers: [{ client_secret: 'abc' }], session: { redis: { password: 'pw' } } }, false)).toEqual([]);
    expect(
      secretProblems(
        { identity_providers: [{ client_secret: 'your-client-secret' }], audit: { sinks: [{ token: 'changeme' }] } },
        true,
      ).map((p) => p.path),
    ).toEqual(['identity_providers[0].client_secret', 'audit.sinks[0].token']);
  });

  it('a real random secret passes, and the shipped demo config compiles', () => {
    expect(problemsOf(base('https://gh.corp.example', { secret: GOOD }, { admin: { token: 'q9Xv2Lb7Nm4Kc8Tz' } }))).toEqual([]);
    expect(secretProblems({ session: { secret: 'demo-only-session-secret-do-not-use-in-production' } }, true)).toEqual([]);
  });
});
