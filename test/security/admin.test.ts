// Admin listener attacks: every row of admin.cases.tsv is one raw request (exact bytes, so paths
// and headers reach Gatehouse as written) to a Gatehouse with a Redis session store, an admin token,
// live sessions for a handful of users with awkward names, and a reload source. A row passes when
// the status is the row's and the effect is exactly the row's: which users' sessions ended, what
// the list showed, whether a reload ran. Plus: the admin token and wrong tokens never reach the
// audit trail, and a short token is refused at load.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { RawConnection, unescapeBytes, type RawResponse } from '../support/raw-http.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { baseConfig, startTestGatehouse, type RawConfigInput, type StartedGatehouse } from '../support/start-gatehouse.ts';

const TOKEN = 'admin-suite-token-Q7vX2mK9pL4wR8sT';
const SECRET = 'admin-suite-session-secret-0123456789abcdef';
const USERS: Record<string, string> = {
  alice: 'alice@corp.example',
  bob: 'bob@corp.example',
  carol: 'carol@corp.example',
  slash: 'a/b',
  a: 'a',
  dotdot: '..',
  pct: 'carol%40corp.example',
};

interface Case {
  readonly id: string;
  readonly listener: 'admin' | 'public';
  readonly method: string;
  readonly target: string;
  readonly headers: string;
  readonly body: '-' | 'small' | 'huge-cl' | 'huge-chunked';
  readonly expect: number;
  readonly effect: string;
  readonly source: string;
}

function loadCases(): Case[] {
  const text = readFileSync(new URL('./admin.cases.tsv', import.meta.url), 'utf8');
  const out: Case[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const cols = line.split('\t');
    if (cols.length !== 9) throw new Error(`admin.cases.tsv: expected 9 columns, got ${cols.length}: ${line.slice(0, 60)}`);
    const [id, listener, method, target, headers, body, status, effect, source] = cols as [
      string,
      Case['listener'],
      string,
      string,
      string,
      Case['body'],
      string,
      string,
      string,
    ];
    out.push({ id, listener, method, target, headers, body, expect: Number(status), effect, source });
  }
  return out;
}

interface Setup {
  readonly gh: StartedGatehouse;
  /** Store key and cookie value of each user's session. */
  readonly sessions: Record<string, { key: string; cookie: string }>;
  reloads: number;
}

function config(): RawConfigInput {
  return {
    ...baseConfig(),
    admin: { listen: '127.0.0.1:0', token: TOKEN },
    session: { store: 'redis', redis: { url: redisUrl(), key_prefix: uniquePrefix() }, secret: SECRET, cookie: { secure: false } },
    // Nothing routed on the public listener but /app: admin paths there must not exist.
    routes: [{ name: 'app', path: '/app', upstream: 'http://127.0.0.1:9', allow: { public: true } }],
  };
}

async function setup(): Promise<Setup> {
  const cfg = config();
  const s: { gh?: StartedGatehouse; reloads: number } = { reloads: 0 };
  const gh = await startTestGatehouse(cfg, {
    reloadFrom: () => {
      s.reloads++;
      return cfg;
    },
  });
  const sessions: Setup['sessions'] = {};
  for (const [k, user] of Object.entries(USERS)) {
    const created = await gh.current().sessions.create({ user, groups: [], idp: 'corp', method: 'test' });
    sessions[k] = { key: created.key, cookie: created.cookieValue };
  }
  return Object.assign(s, { gh, sessions }) as Setup;
}

function expandText(s: string, st: Setup): string {
  const flip = TOKEN.slice(0, -1) + (TOKEN.at(-1) === 'T' ? 'U' : 'T');
  return unescapeBytes(s)
    .replaceAll('{TOKEN_B64}', Buffer.from(`admin:${TOKEN}`).toString('base64'))
    .replaceAll('{TOKEN_PREFIX}', TOKEN.slice(0, -1))
    .replaceAll('{TOKEN_FIRST}', TOKEN.slice(0, 1))
    .replaceAll('{TOKEN_LAST_FLIPPED}', flip)
    .replaceAll('{TOKEN_UPPER}', TOKEN.toUpperCase())
    .replaceAll('{TOKEN}', TOKEN)
    .replaceAll('{LONG}', 'x'.repeat(10_000))
    .replaceAll('{SESSION_COOKIE}', st.sessions.alice!.cookie)
    .replace(/\{KEY:(\w+)\}/g, (_m, u: string) => st.sessions[u]!.key)
    .replace(/\{COOKIEID:(\w+)\}/g, (_m, u: string) => st.sessions[u]!.cookie.split('.')[0]!);
}

/** Send the row's request; returns the first response (and the connection, closed). */
async function send(c: Case, st: Setup): Promise<RawResponse | undefined> {
  const url = c.listener === 'admin' ? st.gh.adminUrl : st.gh.url;
  const extra = c.headers === '-' ? '' : `${expandText(c.headers, st)}\r\n`;
  const head = `${c.method} ${expandText(c.target, st)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}`;
  const conn = await RawConnection.open(url, 25_000);
  onTestFinished(() => conn.close());
  if (c.body === '-') {
    await conn.write(`${head}Connection: close\r\n\r\n`, [c.method]);
    return (await conn.waitForClose()).responses[0];
  }
  if (c.body === 'small') {
    await conn.write(`${head}Content-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"x": 1}\n`, [c.method]);
    return (await conn.waitForClose()).responses[0];
  }
  // Huge bodies: declare far more than is ever sent; the answer must come without it.
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  if (c.body === 'huge-cl') {
    await conn.write(`${head}Content-Type: application/json\r\nContent-Length: ${1024 ** 3}\r\n\r\n`, [c.method]);
    await conn.write(chunk);
  } else {
    await conn.write(`${head}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, [c.method]);
    await conn.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
  }
  const responses = await conn.waitForResponses(1, 15_000);
  conn.close();
  return responses[0];
}

/** Which users still have a live session. */
async function alive(st: Setup): Promise<string[]> {
  const out: string[] = [];
  for (const [k, s] of Object.entries(st.sessions)) if (await st.gh.current().sessions.store.get(s.key)) out.push(k);
  return out;
}

async function checkEffect(c: Case, st: Setup, res: RawResponse): Promise<void> {
  const all = Object.keys(USERS);
  const [kind, arg = '', n] = c.effect.split(':');
  if (kind === 'none' || kind === 'list') expect(await alive(st), `${c.id}: every session still alive`).toEqual(all);
  if (kind === 'none') expect(st.reloads, `${c.id}: no reload`).toBe(0);
  if (kind === 'revoked') {
    const gone = arg.split(',');
    expect(await alive(st), `${c.id}: exactly ${arg} revoked`).toEqual(all.filter((u) => !gone.includes(u)));
    expect(st.reloads).toBe(0);
  }
  if (kind === 'reloaded') {
    expect(st.reloads, `${c.id}: one reload`).toBe(1);
    expect(await alive(st), `${c.id}: a reload keeps sessions`).toEqual(all);
  }
  if (kind === 'list') {
    const user = USERS[arg] ?? arg;
    const body = JSON.parse(res.text()) as { user: string; sessions: { id: string; user: string }[] };
    expect(body.user, `${c.id}: listed user`).toBe(user);
    expect(body.sessions.length, `${c.id}: sessions listed`).toBe(Number(n));
    for (const s of body.sessions) {
      expect(s.user).toBe(user);
      // A listed id is the store key: it names the session and is not its cookie.
      expect(s.id).toBe(st.sessions[arg]!.key);
      expect(st.sessions[arg]!.cookie.includes(s.id)).toBe(false);
    }
  }
}

const cases = loadCases();

describe('admin listener (admin.cases.tsv)', () => {
  it('the case table is well-formed and cites a source on every row', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const c of cases) {
      expect(['admin', 'public'], c.id).toContain(c.listener);
      expect(['-', 'small', 'huge-cl', 'huge-chunked'], c.id).toContain(c.body);
      expect(c.expect, c.id).toBeGreaterThanOrEqual(200);
      expect(c.effect, c.id).toMatch(/^(none|reloaded|revoked:\w+(,\w+)*|list:[^:]+:\d+)$/);
      expect(c.source.trim(), c.id).not.toBe('');
    }
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const st = await setup();
    const res = await send(c, st);
    expect(res, `${c.id}: no answer; source: ${c.source}`).toBeDefined();
    expect(res!.status, `${c.id}: ${res!.text().slice(0, 200)}; source: ${c.source}`).toBe(c.expect);
    // Responses never carry CORS grants, and never echo the token.
    expect(
      res!.headers.filter(([n]) => n.toLowerCase().startsWith('access-control-')),
      c.id,
    ).toEqual([]);
    expect(res!.raw.toString('latin1').includes(TOKEN), `${c.id}: the admin token in a response`).toBe(false);
    if (c.listener === 'admin' && res!.status === 401) expect(res!.header('www-authenticate'), c.id).toMatch(/^Bearer realm=/);
    if (c.listener === 'admin' && res!.header('content-type')?.startsWith('application/json'))
      expect(res!.header('cache-control'), c.id).toBe('no-store');
    if (c.id === 'ctl-metrics') {
      for (const u of Object.values(USERS).filter((u) => u.length > 2)) expect(res!.text().includes(u), `metrics name ${u}`).toBe(false);
    }
    await checkEffect(c, st, res!);
    if (c.body.startsWith('huge')) {
      // The listener is still there for everyone else.
      const again = await RawConnection.open(st.gh.adminUrl);
      await again.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      expect((await again.waitForClose()).statuses).toEqual([200]);
    }
  });
});

describe('admin credentials outside the request path', () => {
  it('neither the admin token nor a wrong token is written to the audit trail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admin-audit-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'audit.ndjson');
    const wrong = 'wrong-token-AUDITMARK-0123456789';
    const gh = await startTestGatehouse({ ...config(), audit: { sinks: [{ type: 'file', path: file, fsync: 'always' }] } });
    const calls = [
      `GET /admin/sessions?user=alice HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
      `GET /admin/sessions?user=alice HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${wrong}\r\nConnection: close\r\n\r\n`,
      `DELETE /admin/users/x/sessions?access_token=${wrong} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
    ];
    for (const call of calls) {
      const conn = await RawConnection.open(gh.adminUrl);
      await conn.write(call);
      await conn.waitForClose();
    }
    const adminEvents = () => {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return [];
      }
      return text.split('\n').filter((l) => l.includes('admin_api'));
    };
    await expect.poll(() => adminEvents().length, { timeout: 10_000 }).toBe(3);
    const text = readFileSync(file, 'utf8');
    expect(text.includes(TOKEN)).toBe(false);
    expect(text.includes('AUDITMARK')).toBe(false);
  });

  it('an admin token shorter than 16 characters is refused when the config is loaded', () => {
    expect(() => compileConfig({ ...config(), admin: { listen: '127.0.0.1:0', token: 'short-token' } })).toThrow(/admin\.token/);
  });
});
