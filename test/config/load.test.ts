import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { loadConfigFile, parseConfigText } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-load-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tempFile(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function thrown(fn: () => unknown): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a ConfigError').toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.code).toBe('GH_CONFIG_INVALID');
  return err;
}

describe('parseConfigText: ${env:NAME}', () => {
  it('substitutes environment variables from options.env', () => {
    const text = 'admin:\n  token: "${env:GH_TOKEN}"\nserver:\n  public_url: "https://${env:GH_HOST}"\n';
    expect(parseConfigText(text, { env: { GH_TOKEN: 'tok-123', GH_HOST: 'gate.corp.example' } })).toEqual({
      admin: { token: 'tok-123' },
      server: { public_url: 'https://gate.corp.example' },
    });
  });

  it('substitutes several placeholders in one string and inside arrays', () => {
    const text = 'routes:\n  - upstream: "http://${env:UP_HOST}:${env:UP_PORT}/x"\n    allow: { groups: ["${env:GROUP}"] }\n';
    expect(parseConfigText(text, { env: { UP_HOST: '10.0.0.5', UP_PORT: '5000', GROUP: 'ml' } })).toEqual({
      routes: [{ upstream: 'http://10.0.0.5:5000/x', allow: { groups: ['ml'] } }],
    });
  });

  it('an empty variable substitutes the empty string', () => {
    expect(parseConfigText('a: "x${env:EMPTY}y"', { env: { EMPTY: '' } })).toEqual({ a: 'xy' });
  });

  it('does not expand placeholders inside substituted values (no recursion)', () => {
    const env = { OUTER: '${env:INNER} ${file:/etc/passwd}', INNER: 'should-not-appear' };
    expect(parseConfigText('a: "${env:OUTER}"', { env })).toEqual({ a: '${env:INNER} ${file:/etc/passwd}' });
  });

  it('leaves keys, numbers, booleans and null alone', () => {
    const text = '"${env:K}": 1\nb: true\nc: ~\nd: 2.5\n';
    expect(parseConfigText(text, { env: { K: 'key' } })).toEqual({ '${env:K}': 1, b: true, c: null, d: 2.5 });
  });

  it('leaves unknown kinds and unterminated placeholders literal', () => {
    expect(parseConfigText('a: "${foo:X}"\nb: "${env:X"', { env: { X: 'v' } })).toEqual({ a: '${foo:X}', b: '${env:X' });
  });

  it('a missing variable is a ConfigError at the key path', () => {
    const err = thrown(() => parseConfigText('admin:\n  token: "${env:GH_MISSING_TOKEN}"\n', { env: {} }));
    expect(err.problems).toEqual([{ path: 'admin.token', message: expect.stringContaining('GH_MISSING_TOKEN') }]);
    expect(err.problems[0]!.message).toContain('not set');
    expect(err.message).toContain('admin.token');
  });

  it('reports every missing variable with its own path, including array indexes', () => {
    const text =
      'admin:\n  token: "${env:A}"\nroutes:\n  - name: x\n    upstream: "${env:B}"\n  - allow:\n      groups: [ok, "${env:C}"]\n';
    const err = thrown(() => parseConfigText(text, { env: {} }));
    expect(err.problems.map((p) => p.path)).toEqual(['admin.token', 'routes[0].upstream', 'routes[1].allow.groups[1]']);
  });

  it('uses process.env when options.env is not given', () => {
    const name = `GATEHOUSE_LOAD_TEST_${process.pid}`;
    process.env[name] = 'from-process-env';
    try {
      expect(parseConfigText(`a: "\${env:${name}}"`)).toEqual({ a: 'from-process-env' });
    } finally {
      delete process.env[name];
    }
  });
});

describe('parseConfigText: $${...} escape', () => {
  it('$${env:X} stays the literal text ${env:X}', () => {
    expect(parseConfigText('a: "$${env:X}"', { env: { X: 'substituted' } })).toEqual({ a: '${env:X}' });
  });

  it('$${file:...} is not read', () => {
    const readFile = () => {
      throw new Error('must not be called');
    };
    expect(parseConfigText('a: "pre $${file:/nope} post"', { env: {}, readFile })).toEqual({ a: 'pre ${file:/nope} post' });
  });

  it('an escaped placeholder does not need the variable to exist', () => {
    expect(parseConfigText('a: "$${env:NOT_SET} and ${env:SET}"', { env: { SET: 'yes' } })).toEqual({ a: '${env:NOT_SET} and yes' });
  });
});

describe('parseConfigText: ${file:PATH}', () => {
  it('reads the file and strips one trailing newline', () => {
    const p = tempFile('token.txt', 'file-secret-value\n');
    expect(parseConfigText(`admin:\n  token: "\${file:${p}}"\n`, { env: {} })).toEqual({ admin: { token: 'file-secret-value' } });
  });

  it('strips a trailing CRLF, only one newline, and keeps inner newlines', () => {
    const crlf = tempFile('crlf.txt', 'crlf-value\r\n');
    const two = tempFile('two.txt', 'line1\nline2\n\n');
    const none = tempFile('none.txt', 'no-newline');
    const text = `a: "\${file:${crlf}}"\nb: "\${file:${two}}"\nc: "\${file:${none}}"\n`;
    expect(parseConfigText(text, { env: {} })).toEqual({ a: 'crlf-value', b: 'line1\nline2\n', c: 'no-newline' });
  });

  it('can be combined with text and env placeholders', () => {
    const p = tempFile('pw.txt', 's3cret\n');
    const text = `url: "redis://\${env:USER_NAME}:\${file:${p}}@redis:6379/0"\n`;
    expect(parseConfigText(text, { env: { USER_NAME: 'gh' } })).toEqual({ url: 'redis://gh:s3cret@redis:6379/0' });
  });

  it('uses options.readFile when given', () => {
    const seen: string[] = [];
    const readFile = (path: string) => {
      seen.push(path);
      return `content of ${path}\n`;
    };
    expect(parseConfigText('a: "${file:/run/secrets/x}"', { env: {}, readFile })).toEqual({ a: 'content of /run/secrets/x' });
    expect(seen).toEqual(['/run/secrets/x']);
  });

  it('a missing file is a ConfigError at the key path', () => {
    const missing = join(dir, 'does-not-exist.txt');
    const err = thrown(() => parseConfigText(`admin:\n  token: "\${file:${missing}}"\n`, { env: {} }));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]!.path).toBe('admin.token');
    expect(err.problems[0]!.message).toContain(missing);
    expect(err.problems[0]!.message).toContain('ENOENT');
  });

  it('an unreadable path (a directory) is a ConfigError', () => {
    const err = thrown(() => parseConfigText(`a:\n  b: "\${file:${dir}}"\n`, { env: {} }));
    expect(err.problems[0]!.path).toBe('a.b');
    expect(err.problems[0]!.message).toContain('EISDIR');
  });

  it('collects env and file problems together', () => {
    const err = thrown(() => parseConfigText(`a: "\${env:NOPE}"\nb: "\${file:${join(dir, 'nope')}}"\n`, { env: {} }));
    expect(err.problems.map((p) => p.path)).toEqual(['a', 'b']);
  });
});

describe('parseConfigText: YAML errors', () => {
  it('a syntax error is a ConfigError mentioning the line', () => {
    const err = thrown(() => parseConfigText('server:\n  public_url: [unclosed\nroutes: 1\n', { env: {} }));
    expect(err.problems.length).toBeGreaterThan(0);
    expect(err.problems[0]!.message).toMatch(/^YAML: /);
    expect(err.problems[0]!.message).toMatch(/line \d+/);
  });

  it('tab indentation is a ConfigError', () => {
    thrown(() => parseConfigText('a:\n\tb: 1\n', { env: {} }));
  });

  it('duplicate keys are a ConfigError', () => {
    const err = thrown(() => parseConfigText('server:\n  listen: "0.0.0.0:1"\n  listen: "0.0.0.0:2"\n', { env: {} }));
    expect(err.problems[0]!.message).toMatch(/unique/i);
  });

  it('duplicate top-level keys are a ConfigError', () => {
    thrown(() => parseConfigText('routes: []\nroutes: []\n', { env: {} }));
  });

  it('several documents in one file are a ConfigError', () => {
    thrown(() => parseConfigText('a: 1\n---\nb: 2\n', { env: {} }));
  });

  it('an empty file parses to an empty object (compile then reports what is missing)', () => {
    expect(parseConfigText('', { env: {} })).toEqual({});
    expect(parseConfigText('# only a comment\n', { env: {} })).toEqual({});
  });
});

describe('loadConfigFile', () => {
  it('a missing file is a ConfigError naming the file', () => {
    const missing = join(dir, 'missing.yaml');
    const err = thrown(() => loadConfigFile(missing));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]!.message).toContain(missing);
    expect(err.problems[0]!.message).toContain('ENOENT');
  });

  it('a directory is a ConfigError', () => {
    expect(thrown(() => loadConfigFile(dir)).problems[0]!.message).toContain('EISDIR');
  });

  it('reads, parses and substitutes with the given options', () => {
    const p = tempFile('c.yaml', 'admin:\n  token: "${env:T}"\n');
    expect(loadConfigFile(p, { env: { T: 'abc' } })).toEqual({ admin: { token: 'abc' } });
  });

  it('a config file with placeholders loads and compiles end to end', () => {
    const tokenFile = tempFile('admin-token', 'admin-token-from-a-file-0123\n');
    const p = tempFile(
      'full.yaml',
      [
        'server:',
        '  public_url: "https://${env:GH_PUBLIC_HOST}"',
        'admin:',
        `  token: "\${file:${tokenFile}}"`,
        'routes:',
        '  - name: app',
        '    upstream: "http://${env:GH_UPSTREAM}"',
        '    allow: { authenticated: true }',
        '',
      ].join('\n'),
    );
    const { config } = compileConfig(loadConfigFile(p, { env: { GH_PUBLIC_HOST: 'gate.corp.example', GH_UPSTREAM: '127.0.0.1:5000' } }));
    expect(config.server.publicUrl).toBe('https://gate.corp.example');
    expect(config.admin.token!.value()).toBe('admin-token-from-a-file-0123');
    expect(config.routes[0]!.upstream.origin).toBe('http://127.0.0.1:5000');
  });

  it('config/demo.yaml loads and compiles', () => {
    const demo = new URL('../../config/demo.yaml', import.meta.url).pathname;
    const { config, warnings } = compileConfig(loadConfigFile(demo, { env: {} }));
    expect(config.devMode).toBe(true);
    expect(config.server.publicUrl).toBe('http://127.0.0.1:4180');
    expect(config.routes.length).toBeGreaterThan(0);
    expect(config.routes.map((r) => r.name)).toContain('whoami');
    expect(warnings.some((w) => w.includes('dev mode'))).toBe(true);
  });
});
