// Request smuggling and desync, over raw sockets: every row of smuggling.cases.tsv is sent byte for
// byte to a real Gatehouse in front of a spy upstream that keeps and strictly parses the exact bytes
// of every upstream connection. A row passes when Gatehouse answers as the row says (mostly 400 and
// close) and the upstream received exactly the requests the row lists — each one well-formed, with
// Gatehouse's framing and identity headers and nothing smuggled — and, when the connection is still
// open, a probe request sent afterwards reaches the upstream intact (no leftover bytes before it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RawConnection, unescapeBytes, type RawResponse } from '../support/raw-http.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { startSpyUpstream, type SpyRequest, type SpyUpstream } from '../support/spy-upstream.ts';

const SECRET = 'smuggling-suite-session-secret-0123456789abcdef';
const ALICE = {
  user: 'alice@corp.example',
  email: 'alice@corp.example',
  name: 'Alice',
  groups: ['ml-admins', 'data-scientists'],
  idp: 'corp',
  method: 'test',
};
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: gh.test\r\nX-Forwarded-User: mallory\r\n\r\n';
const PROBE = 'GET /probe HTTP/1.1\r\nHost: gh.test\r\nConnection: close\r\n\r\n';
// Headers that must never reach an upstream on the HTTP path.
const NEVER_UPSTREAM = ['upgrade', 'http2-settings', 'expect', 'te', 'trailer', 'keep-alive', 'proxy-connection', 'proxy-authorization'];

interface Case {
  readonly id: string;
  readonly mode: 'http' | 'upgrades' | 'refuse-upgrade';
  readonly send: string;
  readonly expect: string;
  readonly upstream: string;
  readonly headers: string;
  readonly source: string;
}

function loadCases(): Case[] {
  const text = readFileSync(new URL('./smuggling.cases.tsv', import.meta.url), 'utf8');
  const cases: Case[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const cols = line.split('\t');
    if (cols.length !== 7) throw new Error(`smuggling.cases.tsv: expected 7 columns, got ${cols.length}: ${line.slice(0, 60)}`);
    const [id, mode, send, exp, upstream, headers, source] = cols as [string, Case['mode'], string, string, string, string, string];
    if (!['http', 'upgrades', 'refuse-upgrade'].includes(mode)) throw new Error(`${id}: unknown mode ${mode}`);
    if (!source.trim()) throw new Error(`${id}: no source`);
    cases.push({ id, mode, send, expect: exp, upstream, headers, source });
  }
  const ids = new Set(cases.map((c) => c.id));
  if (ids.size !== cases.length) throw new Error('smuggling.cases.tsv: duplicate ids');
  return cases;
}

/** The row's bytes as parts split at {THEN}, placeholders expanded. */
function expand(c: Case, session: string): { parts: string[]; bodyLength: number } {
  let s = unescapeBytes(c.send)
    .replaceAll('{SESSION}', session)
    .replaceAll('{SMUGGLED}', SMUGGLED)
    .replace(/\{REPEAT:(\d+):([^}]*)\}/g, (_m, n: string, r: string) => r.repeat(Number(n)));
  // {BODYLEN} stands in the head; the body is everything after the first blank line.
  const whole = s.replaceAll('{THEN}', '').replaceAll('{BODYLEN}', '');
  const headEnd = whole.indexOf('\r\n\r\n');
  const bodyLength = headEnd === -1 ? 0 : Buffer.byteLength(whole.slice(headEnd + 4), 'latin1');
  s = s.replaceAll('{BODYLEN}', String(bodyLength));
  return { parts: s.split('{THEN}'), bodyLength };
}

async function setup(mode: Case['mode']): Promise<{ spy: SpyUpstream; url: string; session: string }> {
  const spy = await startSpyUpstream({
    upgrades: mode === 'upgrades',
    respond:
      mode === 'refuse-upgrade'
        ? (r) => (r.header('upgrade') ? { status: 426, headers: { 'content-type': 'text/plain' }, body: 'upgrade refused' } : undefined)
        : undefined,
  });
  const gh = await startTestGatehouse({
    ...baseConfig(spy.url),
    session: { store: 'memory', secret: SECRET, cookie: { secure: false } },
    routes: [
      { name: 'private', path: '/private', upstream: spy.url, allow: { authenticated: true } },
      { name: 'app', path: '/', upstream: spy.url, allow: { public: true } },
    ],
  });
  const s = await gh.current().sessions.create(ALICE);
  return { spy, url: gh.url, session: `gatehouse=${s.cookieValue}` };
}

const describeUpstream = (r: SpyRequest) => `${r.method} ${r.target}:${r.body.length}`;
const isProbe = (r: SpyRequest) => r.target === '/probe';

function checkHeaders(c: Case, bodyLength: number, requests: SpyRequest[]): void {
  if (c.headers === '-') return;
  for (const check of c.headers.split(';')) {
    const eq = check.indexOf('=');
    const name = check.slice(0, eq).trim();
    const want = check.slice(eq + 1).replace('{BODYLEN}', String(bodyLength));
    for (const r of requests) {
      const values = r.headerAll(name);
      if (want === '-') expect(values, `${c.id}: upstream header ${name} must be absent`).toEqual([]);
      else if (want === '*') expect(values.length, `${c.id}: upstream header ${name} must be present once`).toBe(1);
      else expect(values, `${c.id}: upstream header ${name}`).toEqual([want]);
    }
  }
}

/** The row's invariants, whatever it expects. */
function checkInvariants(c: Case, spy: SpyUpstream, hasSession: boolean): void {
  expect(spy.problems(), `${c.id}: the upstream received irregular bytes`).toEqual([]);
  for (const conn of spy.connections) expect(conn.tunnel.length, `${c.id}: an upstream tunnel was opened`).toBe(0);
  for (const r of spy.requests()) {
    expect(r.target.startsWith('/'), `${c.id}: upstream target ${r.target} is not origin-form`).toBe(true);
    expect(r.target.includes('smuggled'), `${c.id}: a smuggled request reached the upstream`).toBe(false);
    for (const [name, value] of r.headers) {
      expect(value.includes('mallory'), `${c.id}: client-written ${name} reached the upstream`).toBe(false);
      if (name.toLowerCase() === 'cookie')
        expect(value.includes('gatehouse='), `${c.id}: the session cookie reached the upstream`).toBe(false);
    }
    // A WebSocket upgrade keeps Connection/Upgrade on the way upstream; nothing else does.
    const never = r.header('upgrade') === 'websocket' ? NEVER_UPSTREAM.filter((h) => h !== 'upgrade') : NEVER_UPSTREAM;
    for (const h of never) expect(r.headerAll(h), `${c.id}: hop-by-hop ${h} reached the upstream`).toEqual([]);
    if (r.target.startsWith('/private')) {
      expect(hasSession, `${c.id}: /private reached the upstream without a session`).toBe(true);
      expect(r.headerAll('x-forwarded-user'), `${c.id}: identity on /private`).toEqual([ALICE.user]);
    } else if (!hasSession || isProbe(r)) {
      expect(r.headerAll('x-forwarded-user'), `${c.id}: identity on a request without a session`).toEqual([]);
    } else {
      expect([[], [ALICE.user]], `${c.id}: identity on a public path`).toContainEqual(r.headerAll('x-forwarded-user'));
    }
  }
}

async function runCase(c: Case): Promise<void> {
  const { spy, url, session } = await setup(c.mode);
  const { parts, bodyLength } = expand(c, session);
  const conn = await RawConnection.open(url, 25_000);
  try {
    for (let i = 0; i < parts.length; i++) {
      const before = conn.responses().length;
      await conn.write(parts[i]!);
      // {THEN}: the next response (1xx included), or the end of the connection.
      if (i < parts.length - 1) await conn.waitForAnyResponses(before + 1);
    }
    const alternatives = c.expect.split('|').map((e) => (e === 'close' ? [] : e.split(',').map(Number)));
    const finals = Math.min(...alternatives.map((w) => w.filter((s) => s >= 200).length));
    await conn.waitForResponses(Math.max(finals, 1));
    let probed = false;
    const last = conn.responses().at(-1);
    const closing =
      last !== undefined &&
      (/\bclose\b/i.test(last.headerAll('connection').join(',')) ||
        (last.version === 'HTTP/1.0' && !/keep-alive/i.test(last.header('connection') ?? '')));
    if (!conn.closed && !closing) {
      // Requests the row's bytes caused have reached the upstream (or not) by the time their
      // answers arrived; the probe now shows the connection holds no leftover bytes.
      await conn.write(PROBE);
      probed = true;
    }
    const result = await conn.waitForClose(15_000);
    expect(result.end, `${c.id}: Gatehouse kept the connection open after a Connection: close probe`).toBe('closed');
    expect(result.parseError, `${c.id}: bytes after the last response`).toBeUndefined();
    expect(result.rest.length, `${c.id}: an incomplete response at the end: ${result.rest.toString('latin1').slice(0, 80)}`).toBe(0);
    const responses: RawResponse[] = result.responses;
    const statuses = responses.map((r) => r.status);
    const expected = alternatives.map((w) => (probed ? [...w, 200] : w));
    expect(
      expected,
      `${c.id}: statuses ${JSON.stringify(statuses)} (probe ${probed ? 'sent' : 'not sent'}); source: ${c.source}`,
    ).toContainEqual(statuses);
    const upstream = spy.requests();
    if (probed) {
      const last = responses.at(-1)!;
      expect(JSON.parse(last.text()), `${c.id}: the probe's answer`).toMatchObject({
        spy: true,
        target: '/probe',
        method: 'GET',
        bodyLength: 0,
      });
      expect(upstream.filter(isProbe).map(describeUpstream)).toEqual(['GET /probe:0']);
      expect(isProbe(upstream.at(-1)!), `${c.id}: the probe was the last upstream request`).toBe(true);
    }
    const attack = upstream.filter((r) => !isProbe(r));
    const wantUpstream = c.upstream
      .replaceAll('{BODYLEN}', String(bodyLength))
      .split('|')
      .map((u) => (u === '-' ? [] : u.split(',')));
    expect(wantUpstream, `${c.id}: what reached the upstream: ${JSON.stringify(attack.map(describeUpstream))}`).toContainEqual(
      attack.map(describeUpstream),
    );
    checkHeaders(c, bodyLength, attack);
    checkInvariants(c, spy, c.send.includes('{SESSION}'));
  } finally {
    conn.close();
  }
}

const cases = loadCases();

describe('request smuggling and desync (smuggling.cases.tsv)', () => {
  it('the case table is well-formed and cites a source on every row', () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
    for (const c of cases) {
      for (const alt of c.expect.split('|')) expect(alt, c.id).toMatch(/^(close|\d{3}(,\d{3})*)$/);
      for (const alt of c.upstream.split('|'))
        expect(alt, c.id).toMatch(/^(-|[A-Z]+ \/\S*:(\d+|\{BODYLEN\})(,[A-Z]+ \/\S*:(\d+|\{BODYLEN\}))*)$/);
    }
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    await runCase(c);
  });
});
