// Path confusion (issue 11, breaches 2 and 3, the case and trailing-space weaknesses): no spelling
// of a path reaches a protected resource as an identity the config does not allow there.
//
// Every row of path-confusion.cases.tsv is sent over a raw socket (no client normalisation) to
// three real Gatehouses in front of one decoding upstream (test/support/decoding-upstream.ts),
// anonymously (as a browser), as a signed-in user of a low group and as an admin (both as API
// clients). The upstream records what each of several kinds of server would make of the path it
// received (decoded once or twice, case folded, ;params stripped, trailing dots and spaces gone,
// NFKC, "\" as "/", Spring's and Express's matching, IIS). The invariant, for every request:
//   - Gatehouse forwarded it → under EVERY upstream model the path served is one this identity
//     may reach under the config (the policy Gatehouse applied was at least as strict as the one
//     the upstream's reading deserves), or
//   - Gatehouse answered 400, 401, 403, 404 or a redirect to sign-in itself — and never a
//     redirect for a path under api_paths (API clients get 401 JSON).
// The row's `expect` column adds what Gatehouse must do with it (refuse outright, deny, allow).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  asciiLower,
  startDecodingUpstream,
  UPSTREAM_MODELS,
  type DecodedRequest,
  type DecodingUpstream,
} from '../support/decoding-upstream.ts';
import { sendRaw, type RawResult } from '../support/raw-http.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { sessionCookie } from '../support/signed-in.ts';
import { baseConfig, startTestGatehouse, type StartedGatehouse } from '../support/start-gatehouse.ts';

// ---- the cases ----

type Expect = '400' | 'deny' | 'refuse' | 'allow' | 'model';
const EXPECTS: readonly Expect[] = ['400', 'deny', 'refuse', 'allow', 'model'];

interface Case {
  readonly id: string;
  readonly method: string;
  /** As written in the file (for messages). */
  readonly target: string;
  /** The exact bytes of the request target. */
  readonly bytes: Buffer;
  readonly expect: Expect;
  readonly cause: string;
  readonly source: string;
}

function loadCases(file: URL): Case[] {
  const cases: Case[] = [];
  const ids = new Set<string>();
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line === '' || line.startsWith('#')) return;
      const f = line.split('\t');
      const [id, method, target, expect, cause, source] = f as [string, string, string, Expect, string, string];
      if (f.length !== 6 || !EXPECTS.includes(expect) || !/^[A-Z]+$/.test(method) || source === '' || ids.has(id)) {
        throw new Error(
          `path-confusion.cases.tsv:${i + 1}: want "id method target expect cause source" with a new id, got ${JSON.stringify(line)}`,
        );
      }
      ids.add(id);
      cases.push({ id, method, target, bytes: targetBytes(target), expect, cause, source });
    });
  return cases;
}

/** The target as latin1 bytes, "\xHH" standing for one raw byte. */
function targetBytes(target: string): Buffer {
  return Buffer.from(
    target.replace(/\\x([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
}

const CASES = loadCases(new URL('./path-confusion.cases.tsv', import.meta.url));

// ---- the configurations under attack ----

interface Variant {
  readonly name: string;
  /** Routes fold case (the default); false = the upstream is declared case-sensitive. */
  readonly caseInsensitive: boolean;
  /** What the catch-all route lets in. */
  readonly catchAll: 'signed-in' | 'public';
}

const VARIANTS: readonly Variant[] = [
  { name: 'signed-in catch-all', caseInsensitive: true, catchAll: 'signed-in' },
  { name: 'public catch-all', caseInsensitive: true, catchAll: 'public' },
  { name: 'case-sensitive routes', caseInsensitive: false, catchAll: 'signed-in' },
];

const SECRET = 'path-confusion-session-secret-0123456789';

function configFor(upstream: string, v: Variant) {
  const ci = v.caseInsensitive;
  return {
    ...baseConfig(upstream),
    session: { store: 'redis', redis: { url: redisUrl(), key_prefix: uniquePrefix() }, secret: SECRET, cookie: { secure: false } },
    routes: [
      // A stricter route on a sub-path of the catch-all, same upstream (breach 2).
      { name: 'radmin', path: '/radmin', upstream, allow: { groups: ['admins'] }, case_insensitive_paths: ci },
      {
        name: 'app',
        path: '/',
        upstream,
        allow: v.catchAll === 'public' ? { public: true } : { authenticated: true },
        case_insensitive_paths: ci,
        api_paths: ['/api/**'],
        rules: [
          { path: '/admin/**', allow: { groups: ['admins'] } },
          { path: '/api/2.0/*/delete', methods: ['POST'], allow: { groups: ['admins'] } },
          { path: '/exports/**', methods: ['GET'], allow: { groups: ['admins'] } },
          { path: '/projects/**/settings', allow: { groups: ['admins'] } },
          { path: '/health', public: true },
        ],
      },
    ],
  };
}

// ---- who asks ----

interface Who {
  readonly name: 'anonymous' | 'low' | 'admin';
  readonly groups: readonly string[];
  readonly signedIn: boolean;
  readonly headers: readonly string[];
}

const BROWSER = [
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'Sec-Fetch-Mode: navigate',
  'Sec-Fetch-Dest: document',
];
const API_CLIENT = ['Accept: application/json'];
const WHO: readonly Who[] = [
  { name: 'anonymous', groups: [], signedIn: false, headers: BROWSER },
  { name: 'low', groups: ['users'], signedIn: true, headers: API_CLIENT },
  { name: 'admin', groups: ['admins'], signedIn: true, headers: API_CLIENT },
];

/**
 * The oracle: may `who` reach `path` (as some upstream reads it) under variant `v`'s config? An
 * independent restatement of the YAML above in terms of the resource the upstream serves.
 */
function deserves(v: Variant, who: Who, method: string, path: string): boolean {
  const p = v.caseInsensitive ? asciiLower(path) : path;
  const under = (prefix: string) => p === prefix || p.startsWith(`${prefix}/`);
  const admin = who.groups.includes('admins');
  if (under('/radmin') || under('/admin')) return admin;
  const s = p.split('/');
  if (method === 'POST' && s.length === 5 && s[1] === 'api' && s[2] === '2.0' && s[4] === 'delete') return admin;
  if ((method === 'GET' || method === 'HEAD') && under('/exports')) return admin;
  // "**" is zero or more segments (Ant / Spring / gitignore): /projects/settings is covered too.
  if (s.length >= 3 && s[1] === 'projects' && s.at(-1) === 'settings') return admin;
  if (under('/health')) return true;
  return v.catchAll === 'public' || who.signedIn;
}

/** Models that apply to a variant: case-folding servers only where the route says the upstream folds case. */
const modelsFor = (v: Variant) => UPSTREAM_MODELS.filter((m) => v.caseInsensitive || !m.foldsCase);

// ---- running a case ----

interface Running {
  readonly variant: Variant;
  readonly gh: StartedGatehouse;
  readonly cookies: Map<Who['name'], string>;
}

let upstream: DecodingUpstream;
const running: Running[] = [];

beforeAll(async () => {
  upstream = await startDecodingUpstream({ autoClose: false });
  for (const variant of VARIANTS) {
    const gh = await startTestGatehouse(configFor(upstream.url, variant), { keepRunning: true });
    const cookies = new Map<Who['name'], string>();
    for (const who of WHO) {
      if (who.signedIn) cookies.set(who.name, await sessionCookie(gh, { user: `${who.name}@example.com`, groups: who.groups }));
    }
    running.push({ variant, gh, cookies });
  }
}, 60_000);

afterAll(async () => {
  for (const r of running) await r.gh.shutdown();
  await upstream?.close();
});

interface Outcome {
  readonly who: Who;
  readonly variant: Variant;
  readonly result: RawResult;
  readonly status: number | undefined;
  /** What the upstream received, when Gatehouse forwarded the request. */
  readonly forwarded: DecodedRequest | undefined;
  /** The request as sent, for reproduction. */
  readonly request: string;
}

let sequence = 0;

async function send(c: Case, r: Running, who: Who): Promise<Outcome> {
  const caseId = `${c.id}/${r.variant.name}/${who.name}/${sequence++}`;
  const cookie = r.cookies.get(who.name);
  const lines = [
    `Host: ${new URL(r.gh.url).host}`,
    ...who.headers,
    ...(cookie ? [`Cookie: ${cookie}`] : []),
    `X-Case-Id: ${caseId}`,
    ...(c.method === 'POST' ? ['Content-Length: 0'] : []),
    'Connection: close',
  ];
  const head = Buffer.from(`${c.method} `, 'latin1');
  const tail = Buffer.from(` HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const result = await sendRaw(r.gh.url, Buffer.concat([head, c.bytes, tail]), { timeoutMs: 20_000, methods: [c.method] });
  const request = `${c.method} ${c.target} HTTP/1.1 (${who.name}${cookie ? ', with session' : ''}, ${who.headers[0]})`;
  return { who, variant: r.variant, result, status: result.responses.at(-1)?.status, forwarded: upstream.byCase(caseId), request };
}

const REFUSALS = new Set([400, 401, 403, 404]);

/** Everything wrong with one outcome, as readable lines (empty = fine). */
function problemsOf(c: Case, o: Outcome): string[] {
  const out: string[] = [];
  const at = `[${o.variant.name}] ${o.request}`;
  const res = o.result.responses.at(-1);
  if (o.forwarded) {
    for (const m of modelsFor(o.variant)) {
      const served = o.forwarded.effective[m.name]!;
      if (!deserves(o.variant, o.who, c.method, served)) {
        out.push(
          `${at}: forwarded as "${o.forwarded.target}" (status ${o.status}), which ${m.name} (${m.servers}) serves as "${served}": not allowed for ${o.who.name}`,
        );
      }
    }
  } else if (o.status === undefined) {
    out.push(`${at}: no response (${o.result.end}${o.result.error ? `: ${o.result.error}` : ''})`);
  } else if (o.status === 302 || o.status === 303) {
    const location = res?.header('location') ?? '';
    if (!location.startsWith('/.gatehouse/login?rd=')) out.push(`${at}: redirected to ${JSON.stringify(location)}, not to sign-in`);
    if (o.who.signedIn) out.push(`${at}: a signed-in API client was redirected (${o.status})`);
    // api_paths: any reading of the path under /api is an API path: 401 JSON, never a redirect.
    const fold = (p: string) => (o.variant.caseInsensitive ? asciiLower(p) : p);
    const apiReading = modelsFor(o.variant)
      .map((m) => effectiveOf(c, m.name))
      .find((p) => /^\/api(\/|$)/.test(fold(p)));
    if (apiReading !== undefined) out.push(`${at}: ${o.status} redirect for "${apiReading}", a path under api_paths (want 401 JSON)`);
  } else if (!REFUSALS.has(o.status)) {
    out.push(`${at}: answered ${o.status} without forwarding (want 400/401/403/404 or a sign-in redirect)`);
  } else if (o.status === 401 && !(res?.header('content-type') ?? '').startsWith('application/json')) {
    out.push(`${at}: 401 with content-type ${res?.header('content-type')}, want JSON`);
  }
  return out;
}

/** Effective path of the row's target under a model, computed locally (for requests never forwarded). */
function effectiveOf(c: Case, model: string): string {
  const target = c.bytes.toString('latin1');
  const q = target.indexOf('?');
  return UPSTREAM_MODELS.find((m) => m.name === model)!.effective(q === -1 ? target : target.slice(0, q));
}

/** What the row's `expect` column asks of the outcomes (on the case-folding configurations). */
function expectationProblems(c: Case, outcomes: readonly Outcome[]): string[] {
  const out: string[] = [];
  for (const o of outcomes) {
    const at = `[${o.variant.name}] ${o.request}`;
    const json = (() => {
      try {
        return JSON.parse(o.result.responses.at(-1)?.text() ?? '') as { error?: string };
      } catch {
        return undefined;
      }
    })();
    if (c.expect === '400') {
      if (o.forwarded || o.status !== 400) out.push(`${at}: want 400 before any routing, got ${o.forwarded ? 'forwarded' : o.status}`);
      else if (o.who.headers === API_CLIENT && json?.error !== 'GH_BAD_PATH')
        out.push(`${at}: want error GH_BAD_PATH, got ${JSON.stringify(json)}`);
      continue;
    }
    if (!o.variant.caseInsensitive) continue;
    // api_paths: an anonymous browser asking for an API path gets 401 JSON, not a sign-in page.
    if (
      o.who.name === 'anonymous' &&
      o.variant.catchAll === 'signed-in' &&
      /^\/api(\/|$)/.test(asciiLower(effectiveOf(c, 'decode-once'))) &&
      !o.forwarded &&
      o.status !== 400
    ) {
      if (o.status !== 401 || json?.error !== 'GH_UNAUTHENTICATED')
        out.push(
          `${at}: an API path: want 401 GH_UNAUTHENTICATED JSON for a browser without a session, got ${o.status} ${JSON.stringify(json)}`,
        );
    }
    const privileged = o.who.name === 'admin';
    if ((c.expect === 'deny' || c.expect === 'refuse') && !privileged && o.forwarded)
      out.push(`${at}: want refused for ${o.who.name}, was forwarded as "${o.forwarded.target}"`);
    if (c.expect === 'deny' && privileged && !o.forwarded)
      out.push(`${at}: want forwarded for an admin (Gatehouse reads it as the protected path), got ${o.status}`);
    if (c.expect === 'allow' && o.who.name !== 'anonymous' && !o.forwarded)
      out.push(`${at}: want forwarded for ${o.who.name}, got ${o.status}`);
  }
  return out;
}

describe('path confusion: no spelling reaches a protected path as the wrong identity (path-confusion.cases.tsv)', () => {
  it('has cases of every kind and a source for each', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150);
    for (const kind of EXPECTS)
      expect(
        CASES.some((c) => c.expect === kind),
        kind,
      ).toBe(true);
    expect(new Set(CASES.map((c) => c.source)).size).toBeGreaterThanOrEqual(15);
  });

  it('the upstream models read known spellings the way their servers do', () => {
    const read = (model: string, path: string) => UPSTREAM_MODELS.find((m) => m.name === model)!.effective(path);
    expect([read('literal', '/%61dmin/./x'), read('decode-once', '/%61dmin/x/%2e%2e/y'), read('decode-twice', '/%2561dmin')]).toEqual([
      '/%61dmin/x',
      '/admin/y',
      '/admin',
    ]);
    expect([
      read('path-params', '/admin;jsessionid=1/x'),
      read('path-params', '/x/..;/admin'),
      read('path-params', '/admin%3Bx'),
      read('path-params-after-decoding', '/admin%3Bx/y'),
    ]).toEqual(['/admin/x', '/admin', '/admin;x', '/admin/y']);
    expect([
      read('trailing-dots-spaces', '/admin.%20./x'),
      read('nfkc', '/%EF%BD%81dmin'),
      read('backslash', '/x%5C..%5Cadmin'),
      read('percent-u', '/%u0061dmin'),
    ]).toEqual(['/admin/x', '/admin', '/admin', '/admin']);
    expect([
      read('case-insensitive', '/ADMIN'),
      read('case-insensitive-unicode', '/adm%C4%B1n/%C5%BF'),
      read('spring-legacy', '/%20admin/x/'),
      read('express', '/ADMIN/'),
    ]).toEqual(['/admin', '/admin/s', '/admin/x', '/admin']);
    expect([read('iis', '/AdM%u0131N.%20/x%EF%BC%BC..%EF%BC%BCy'), read('proxy-then-iis', '/%25u0061dmin')]).toEqual([
      '/admin/y',
      '/admin',
    ]);
  });

  it('the oracle agrees with the config on canonical paths', () => {
    const v = VARIANTS[0]!;
    const [anon, low, admin] = WHO as [Who, Who, Who];
    expect([deserves(v, low, 'GET', '/admin/x'), deserves(v, admin, 'GET', '/admin/x'), deserves(v, low, 'GET', '/radmin')]).toEqual([
      false,
      true,
      false,
    ]);
    expect([
      deserves(v, low, 'POST', '/api/2.0/r/delete'),
      deserves(v, low, 'GET', '/api/2.0/r/delete'),
      deserves(v, low, 'POST', '/api/2.0/a/b/delete'),
    ]).toEqual([false, true, true]);
    expect([deserves(v, anon, 'GET', '/health'), deserves(v, anon, 'GET', '/x'), deserves(VARIANTS[1]!, anon, 'GET', '/x')]).toEqual([
      true,
      false,
      true,
    ]);
    expect([deserves(v, low, 'HEAD', '/exports/a'), deserves(v, low, 'GET', '/administrator')]).toEqual([false, true]);
    expect([
      deserves(v, low, 'GET', '/projects/a/b/settings'),
      deserves(v, low, 'GET', '/projects/settings'),
      deserves(v, low, 'GET', '/projects/a/settings/x'),
    ]).toEqual([false, false, true]);
  });

  it.each(CASES.map((c) => [`${c.id} ${c.method} ${c.target} (${c.expect}; ${c.cause}; ${c.source})`, c] as const))(
    '%s',
    async (_name, c) => {
      const outcomes = await Promise.all(running.flatMap((r) => WHO.map((who) => send(c, r, who))));
      const problems = [...outcomes.flatMap((o) => problemsOf(c, o)), ...expectationProblems(c, outcomes)];
      expect(problems.join('\n'), `${c.id}: ${c.cause} — ${c.source}`).toBe('');
    },
  );
});
