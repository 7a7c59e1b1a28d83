// Where a browser may be sent after sign-in: createReturnUrlCheck against a table of open-redirect
// tricks (test/fixtures/open-redirects.txt), plus properties every answer must have whatever the
// input: a path that stays on this host, or an https URL on a host a route serves, and checking an
// answer again changes nothing (the callback re-checks what the login endpoint stored).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { createReturnUrlCheck } from '../../src/auth/return-url.ts';

const FIXTURE = new URL('../fixtures/open-redirects.txt', import.meta.url);

interface Case {
  readonly line: number;
  readonly input: string;
  readonly expected: string;
}

/** Placeholders for characters a plain-text fixture cannot show (see the fixture's header). */
function expand(text: string, line: number): string {
  return text.replace(/\{([^{}]*)\}/g, (whole, name: string) => {
    if (name === 'EMPTY') return '';
    if (name === 'SP') return ' ';
    if (name === 'TAB') return '\t';
    if (name === 'LF') return '\n';
    if (name === 'CR') return '\r';
    const cp = /^U\+([0-9A-F]{4,6})$/.exec(name);
    if (cp) return String.fromCodePoint(parseInt(cp[1]!, 16));
    const rep = /^REPEAT:(\d+):(.+)$/.exec(name);
    if (rep) return rep[2]!.repeat(Number(rep[1]));
    throw new Error(`open-redirects.txt:${line}: unknown placeholder ${whole}`);
  });
}

function loadCases(): Case[] {
  const cases: Case[] = [];
  readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text === '' || text.startsWith('#')) return;
      const fields = text.split('\t');
      if (fields.length !== 2) throw new Error(`open-redirects.txt:${i + 1}: expected "<input>\\t<expected>", got ${JSON.stringify(text)}`);
      cases.push({ line: i + 1, input: expand(fields[0]!, i + 1), expected: expand(fields[1]!, i + 1) });
    });
  return cases;
}

const show = (s: string) => {
  const j = JSON.stringify(s);
  return j.length > 70 ? `${j.slice(0, 50)}…(${s.length} chars)` : j;
};

function routesConfig(publicUrl: string) {
  return compileConfig({
    log_level: 'silent',
    server: { public_url: publicUrl },
    session: { secret: 'return-url-test-session-secret-0123456789' },
    routes: [
      { name: 'mlflow', host: 'mlflow.corp.example', upstream: 'http://127.0.0.1:5000', allow: { authenticated: true } },
      { name: 'labels', host: '*.labels.corp.example', upstream: 'http://127.0.0.1:5001', allow: { authenticated: true } },
      { name: 'app', path: '/', upstream: 'http://127.0.0.1:5002', allow: { authenticated: true } },
    ],
  }).config;
}

const config = routesConfig('https://ml.corp.example');
const check = createReturnUrlCheck(config);
const cases = loadCases();

/** Hosts an absolute answer may name: public_url's and the route hosts (wildcards as suffixes). */
function safeAnswer(out: string): boolean {
  if (out.startsWith('/')) {
    // A path: must not be read by a browser as "//host" or "/\host".
    return !/^\/[\\/]/.test(out) && !/[\u0000-\u001f\u007f\s\\]/.test(out);
  }
  if (!URL.canParse(out)) return false;
  const u = new URL(out);
  if (u.protocol !== 'https:' || u.username || u.password) return false;
  return (
    u.hostname === 'ml.corp.example' ||
    u.hostname === 'mlflow.corp.example' ||
    (u.hostname.endsWith('.labels.corp.example') && u.hostname !== '.labels.corp.example')
  );
}

describe('createReturnUrlCheck (test/fixtures/open-redirects.txt)', () => {
  it('the fixture has enough cases of both kinds', () => {
    expect(config.devMode).toBe(false);
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(cases.filter((c) => c.expected === '/').length).toBeGreaterThanOrEqual(20);
    expect(cases.filter((c) => c.expected !== '/').length).toBeGreaterThanOrEqual(10);
  });

  it.each(cases.map((c) => [show(c.input), show(c.expected), c] as const))('%s → %s', (_in, _out, c) => {
    expect(check(c.input), `fixture line ${c.line}`).toBe(c.expected);
  });
});

describe('createReturnUrlCheck: properties of every answer', () => {
  it.each(cases.map((c) => [show(c.input), c] as const))(
    '%s: the answer stays on a served host and is stable when checked again',
    (_in, c) => {
      const out = check(c.input);
      expect(safeAnswer(out), `fixture line ${c.line}: unsafe answer ${JSON.stringify(out)}`).toBe(true);
      expect(check(out), `fixture line ${c.line}: checking ${JSON.stringify(out)} again`).toBe(out);
    },
  );

  it('treats null and undefined as "no return URL"', () => {
    expect(check(null)).toBe('/');
    expect(check(undefined)).toBe('/');
  });
});

describe('createReturnUrlCheck: dev mode (http public_url on loopback)', () => {
  const dev = routesConfig('http://127.0.0.1:4180');
  const devCheck = createReturnUrlCheck(dev);

  it.each([
    // Route hosts are served on public_url's scheme and port.
    ['http://mlflow.corp.example:4180/x', 'http://mlflow.corp.example:4180/x'],
    ['http://a.labels.corp.example:4180/', 'http://a.labels.corp.example:4180/'],
    ['http://127.0.0.1:4180/runs?x=1', 'http://127.0.0.1:4180/runs?x=1'],
    ['http://mlflow.corp.example/x', '/'],
    ['https://mlflow.corp.example/x', '/'],
    ['https://mlflow.corp.example:4180/x', '/'],
    // Another port on loopback is another application.
    ['http://127.0.0.1:9999/x', '/'],
    ['http://127.0.0.1/x', '/'],
    ['http://localhost:4180/x', '/'],
    ['http://evil.com/', '/'],
    ['//evil.com', '/'],
    ['/runs', '/runs'],
  ])('%s → %s', (input, expected) => {
    expect(dev.devMode).toBe(true);
    expect(devCheck(input)).toBe(expected);
  });
});

describe('createReturnUrlCheck: several wildcard hosts, and paths with "//" further in', () => {
  const multi = createReturnUrlCheck(
    compileConfig({
      log_level: 'silent',
      server: { public_url: 'https://ml.corp.example' },
      session: { secret: 'return-url-test-session-secret-0123456789' },
      routes: [
        { name: 'labels', host: '*.labels.corp.example', upstream: 'http://127.0.0.1:5001', allow: { authenticated: true } },
        { name: 'notebooks', host: '*.nb.corp.example', upstream: 'http://127.0.0.1:5002', allow: { authenticated: true } },
        { name: 'app', path: '/', upstream: 'http://127.0.0.1:5003', allow: { authenticated: true } },
      ],
    }).config,
  );

  it.each([
    // Each wildcard host on its own: one match among several is enough.
    ['https://a.labels.corp.example/x', 'https://a.labels.corp.example/x'],
    ['https://a.nb.corp.example/x', 'https://a.nb.corp.example/x'],
    ['https://a.b.nb.corp.example/', 'https://a.b.nb.corp.example/'],
    // The suffix alone, with an empty first label, is not a served host.
    ['https://.nb.corp.example/x', '/'],
    ['https://.labels.corp.example/x', '/'],
    ['https://nb.corp.example/x', '/'],
    ['https://a.nb.corp.example./x', '/'],
    ['https://anb.corp.example/x', '/'],
    // A name the Host parser refuses (an empty label) is no served host, whatever it ends with.
    ['https://a..nb.corp.example/x', '/'],
    ['https://..nb.corp.example/x', '/'],
    // A route without a host serves no extra host name.
    ['https://app/x', '/'],
    ['https://ml.corp.example/x', 'https://ml.corp.example/x'],
    // "//" after the first character is a path, not another host.
    ['/a//', '/a//'],
    ['/a//b', '/a//b'],
    ['/a/%2F%2F', '/a/%2F%2F'],
  ])('%s → %s', (input, expected) => {
    expect(multi(input)).toBe(expected);
  });
});
