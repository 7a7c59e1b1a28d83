import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkOnline, runCheckConfig } from '../../src/cli/check-config.ts';
import { freePort } from '../support/ports.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-check-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
});

const TOKEN_VAR = 'GATEHOUSE_CHECK_CONFIG_TEST_TOKEN';
const TOKEN = 'Zq7-SECRET-VALUE-xK93pLm2Wv8t';

let n = 0;
function configFile(lines: readonly string[]): string {
  const p = join(dir, `config-${++n}.yaml`);
  writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}

function run(path: string): { code: number; lines: string[]; text: string } {
  const lines: string[] = [];
  const code = runCheckConfig(path, (line) => lines.push(line));
  return { code, lines, text: lines.join('\n') };
}

const VALID = [
  'server:',
  '  public_url: "https://gatehouse.corp.example"',
  '  listen: "0.0.0.0:8443"',
  '  trusted_proxies: ["10.0.0.0/8"]',
  'admin:',
  '  listen: "127.0.0.1:9181"',
  `  token: "\${env:${TOKEN_VAR}}"`,
  'routes:',
  '  - name: mlflow',
  '    host: mlflow.corp.example',
  '    upstream: "http://127.0.0.1:5000"',
  '    allow: { groups: [ml, admins] }',
  '  - name: tensorboard',
  '    path: /tb',
  '    upstream: "http://127.0.0.1:6006/base"',
  '    allow: { authenticated: true }',
];

describe('runCheckConfig', () => {
  it('a valid file exits 0 and prints a summary naming every route', () => {
    vi.stubEnv(TOKEN_VAR, TOKEN);
    const path = configFile(VALID);
    const { code, lines, text } = run(path);
    expect(code).toBe(0);
    expect(lines[0]).toBe(`${path}: OK`);
    expect(text).toContain('https://gatehouse.corp.example');
    expect(text).toContain('0.0.0.0:8443');
    expect(text).toContain('127.0.0.1:9181');
    expect(text).toContain('10.0.0.0/8');
    expect(text).toMatch(/routes:\s+2/);
    // One table row per route: name, host+path, upstream, policy.
    const mlflow = lines.find((l) => l.startsWith('    mlflow '));
    const tb = lines.find((l) => l.startsWith('    tensorboard '));
    expect(mlflow).toContain('mlflow.corp.example/');
    expect(mlflow).toContain('http://127.0.0.1:5000');
    expect(mlflow).toContain('groups=ml|admins');
    expect(tb).toContain('*/tb');
    expect(tb).toContain('http://127.0.0.1:6006/base');
    expect(tb).toContain('authenticated=true');
  });

  it('shows an admin token from the environment as [redacted], never its value', () => {
    vi.stubEnv(TOKEN_VAR, TOKEN);
    const { code, lines, text } = run(configFile(VALID));
    expect(code).toBe(0);
    expect(lines.find((l) => l.includes('admin:'))).toContain('token [redacted]');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('SECRET-VALUE');
  });

  it('says when the admin token is not set', () => {
    const lines = VALID.filter((l) => !l.includes('token:'));
    const { code, text } = run(configFile(lines));
    expect(code).toBe(0);
    expect(text).toContain('not set');
    expect(text).not.toContain('[redacted]');
  });

  it('prints warnings, e.g. a route without allow and dev mode', () => {
    const path = configFile([
      'server:',
      '  public_url: "http://127.0.0.1:4180"',
      'routes:',
      '  - name: locked',
      '    upstream: "http://127.0.0.1:5000"',
    ]);
    const { code, lines, text } = run(path);
    expect(code).toBe(0);
    expect(text).toContain('(dev mode)');
    expect(text).toContain('nobody (no allow)');
    expect(lines.some((l) => l.startsWith('warning: ') && l.includes('routes[0] (locked)'))).toBe(true);
    expect(lines.some((l) => l.startsWith('warning: ') && l.includes('dev mode'))).toBe(true);
  });

  it('an invalid file exits 1 and names the key path of every problem', () => {
    const path = configFile([
      'server:',
      '  public_url: "https://gatehouse.corp.example"',
      'routes:',
      '  - name: a',
      '    upstream: "http://127.0.0.1:5000"',
      '    timeout: 5 minutes',
      '  - name: b',
      '    path: /b',
      '    upstream: "not a url"',
      '    upstreem: "http://127.0.0.1:5001"',
    ]);
    const { code, text } = run(path);
    expect(code).toBe(1);
    expect(text).toContain(path);
    expect(text).not.toContain(': OK');
    expect(text).toContain('routes[0].timeout');
    expect(text).toContain('routes[1].upstream: not a URL');
    expect(text).toContain('routes[1].upstreem: unknown key');
    expect(text).toMatch(/3 problems/);
  });

  it('a missing environment variable exits 1 and names the key path, not a value', () => {
    vi.stubEnv(TOKEN_VAR, undefined);
    const { code, text } = run(configFile(VALID));
    expect(code).toBe(1);
    expect(text).toContain('admin.token');
    expect(text).toContain(TOKEN_VAR);
  });

  it('a too-short token exits 1 without echoing it', () => {
    vi.stubEnv(TOKEN_VAR, 'short-secret');
    const { code, text } = run(configFile(VALID));
    expect(code).toBe(1);
    expect(text).toContain('admin.token');
    expect(text).not.toContain('short-secret');
  });

  it('a YAML error exits 1', () => {
    const { code, text } = run(configFile(['server:', '  public_url: [oops', 'routes: 1']));
    expect(code).toBe(1);
    expect(text).toContain('YAML');
  });

  it('a missing file exits 1 and names the file', () => {
    const missing = join(dir, 'nope.yaml');
    const { code, text } = run(missing);
    expect(code).toBe(1);
    expect(text).toContain(missing);
    expect(text).toContain('ENOENT');
  });

  it('shows the session store and the identity providers, never a Redis password', () => {
    const { code, lines, text } = run(
      configFile([
        'server:',
        '  public_url: "https://gatehouse.corp.example"',
        'session:',
        '  store: redis',
        '  secret: "Kq3v9XbT2mWc7LpZ8dRf1YhN4sGj6UeA0oIx5"',
        '  redis: { url: "redis://:Hunter2-pass@redis.internal:6379/2" }',
        'identity_providers:',
        '  - { id: corp, type: oidc, issuer: "https://idp.corp.example", client_id: gh, client_secret: "Vb8nQ2xLr5Tz9Wm3Kc7Hd1" }',
        'routes:',
        '  - { name: app, upstream: "http://127.0.0.1:5000", allow: { authenticated: true }, deny: { groups: [contractors] } }',
      ]),
    );
    expect(code).toBe(0);
    expect(lines.find((l) => l.includes('session:'))).toContain('redis redis://redis.internal:6379/2, secret set');
    expect(text).not.toContain('Hunter2');
    expect(text).toMatch(/identity providers: 1\n\s+ID\s+TYPE[^\n]*\n\s+corp\s+oidc\s+https:\/\/idp\.corp\.example\s+client gh/);
    expect(lines.find((l) => l.startsWith('    app '))).toMatch(/allow authenticated=true; deny groups=contractors$/);
  });

  it('a missing section reports its own required keys in the same run', () => {
    const { code, text } = run(configFile(['routes:', '  - { name: a, upstream: "http://127.0.0.1:5000" }']));
    expect(code).toBe(1);
    expect(text).toContain('  server: required\n  server.public_url: required');
  });

  it('a YAML syntax error shows the offending line with a caret, without a dangling position', () => {
    const { code, text } = run(configFile(['server:', '  public_url: "https://gatehouse.corp.example"', ' routes: [a', 'x: 1']));
    expect(code).toBe(1);
    expect(text).toMatch(/YAML: line 3, column 1: [^\n]+\n {4} routes: \[a\n {4}\^/);
    expect(text).not.toMatch(/at line \d+, column \d+:/);
  });

  it('a file with several YAML documents gets a plain message', () => {
    const { code, text } = run(configFile(['server: {}', '---', 'routes: []']));
    expect(code).toBe(1);
    expect(text).toContain('more than one document');
    expect(text).not.toContain('parseAllDocuments');
  });

  it("--online fetches each IdP's discovery document and fails when one does not answer", async () => {
    const idp = createServer((req, res) => {
      res.writeHead(req.url === '/.well-known/openid-configuration' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const up = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    const dead = `http://127.0.0.1:${await freePort()}`;
    const provider = (id: string, issuer: string) =>
      `  - { id: ${id}, type: oidc, issuer: "${issuer}", client_id: c, client_secret: "Vb8nQ2xLr5Tz9Wm3Kc7Hd1" }`;
    const file = (providers: string[]) =>
      configFile([
        'server:',
        '  public_url: "http://127.0.0.1:4180"',
        'identity_providers:',
        ...providers,
        'routes:',
        '  - { name: a, upstream: "http://127.0.0.1:5000", allow: { authenticated: true } }',
      ]);
    try {
      const lines: string[] = [];
      expect(await checkOnline(file([provider('good', up)]), (l) => lines.push(l))).toBe(0);
      expect(lines).toEqual([`  online:       good: ok ${up}/.well-known/openid-configuration`]);
      const bad: string[] = [];
      expect(await checkOnline(file([provider('good', up), provider('gone', dead)]), (l) => bad.push(l))).toBe(1);
      expect(bad[1]).toBe(`  online:       gone: FAILED (ECONNREFUSED) ${dead}/.well-known/openid-configuration`);
    } finally {
      idp.close();
    }
  });
});
