// The SAML attack suite: every row of saml.cases.tsv is one attack (or one control) delivered the
// way a browser or an IdP would, against a real Gatehouse with a Redis session store and genuinely
// signed responses and logout requests. A refusal is checked for its status, error code and
// reason, for the absence of any session and session cookie, and for its audit record; an
// acceptance for the session it creates (user, groups). The rows cite where each case comes from.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser, type Page } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import {
  afterFirstIssuer,
  before,
  billionLaughsDoctype,
  deflate64,
  logoutRequestXml,
  responseEnvelope,
  RSA_SHA256,
  signedAssertion,
  splitSignature,
  waitFor,
  withPrologue,
  xxeDoctype,
  redirectQuery,
  type LogoutRequestOptions,
} from '../support/saml-attack-kit.ts';
import {
  assertionXml,
  b64,
  BEARER,
  makeKeyPair,
  newId,
  responseXml,
  signXml,
  type ConfirmationSpec,
  type ResponseOptions,
} from '../support/saml-idp.ts';
import { postToAcs, SP_ENTITY, SSO_URL, startLogin, startSamlSetup, type SamlSetup } from '../support/saml.ts';

interface Case {
  readonly id: string;
  readonly setup: string;
  readonly flow: 'sp' | 'unsolicited' | 'replay' | 'replay-unsolicited' | 'slo-redirect' | 'slo-post';
  readonly mutation: string;
  readonly arg: string;
  readonly expect: 'accept' | 'refuse';
  readonly status: number;
  readonly code: string | undefined;
  readonly reason: RegExp | undefined;
  readonly check: string;
  readonly source: string;
}

const CASES: Case[] = readFileSync(new URL('./saml.cases.tsv', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .slice(1) // the header row
  .map((line) => {
    const [id, setup, flow, mutation, arg, expectation, status, code, reason, check, source] = line.split('\t');
    if (source === undefined) throw new Error(`saml.cases.tsv: too few columns in ${line}`);
    return {
      id: id!,
      setup: setup!,
      flow: flow as Case['flow'],
      mutation: mutation!,
      arg: arg!,
      expect: expectation as Case['expect'],
      status: Number(status),
      code: code === '-' ? undefined : code,
      reason: reason === '-' ? undefined : new RegExp(reason!, 'i'),
      check: check!,
      source,
    };
  });

/** Provider keys per setup named in the table. */
const SETUPS: Record<string, Record<string, unknown>> = {
  default: {},
  'idp-initiated': { allow_idp_initiated: true },
  'split-semicolon': { split_group_values_on: ';' },
  'signed-response': { signed: 'response' },
};

const CM = 'urn:oasis:names:tc:SAML:2.0:cm:';
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const METHODS: Record<string, string | null> = {
  bearer: BEARER,
  hok: `${CM}holder-of-key`,
  sv: `${CM}sender-vouches`,
  none: null,
  empty: '',
};

interface Ctx {
  readonly s: SamlSetup;
  /** The AuthnRequest ID of the sign-in this browser started (flow sp). */
  readonly requestId: string | undefined;
  /** The user of this case (unique, so sessions of other cases never count). */
  readonly user: string;
  readonly attacker: string;
}

const sloUrlOf = (s: SamlSetup) => s.acsUrl.replace(/\/acs$/, '/slo');

/** A table value: null, a time relative to now ("now-61s"), or text with placeholders. */
function value(ctx: Ctx, v: string): string | Date | null {
  if (v === 'null') return null;
  const t = /^now([+-])(\d+)([smhd])$/.exec(v);
  if (t) return new Date(Date.now() + (t[1] === '-' ? -1 : 1) * Number(t[2]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[t[3] as 's']);
  return v
    .replace(/\{req\}/g, ctx.requestId ?? newId())
    .replace(/\{REQ\}/g, (ctx.requestId ?? newId()).toUpperCase())
    .replace(/\{newid\}/g, newId())
    .replace(/\{acs\}/g, ctx.s.acsUrl)
    .replace(/\{slo\}/g, sloUrlOf(ctx.s));
}

/** "a=1;b=2" → pairs (the value may contain "="). */
const pairs = (arg: string) =>
  arg
    .split(';')
    .filter(Boolean)
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? ([p, ''] as const) : ([p.slice(0, eq), p.slice(eq + 1)] as const);
    });

const base = (ctx: Ctx, o: Partial<ResponseOptions> = {}): ResponseOptions => ({
  acsUrl: ctx.s.acsUrl,
  audience: SP_ENTITY,
  inResponseTo: ctx.requestId,
  nameId: ctx.user,
  attributes: { groups: ['ml-readers'] },
  ...o,
});

const evilOf = (ctx: Ctx, o: ResponseOptions) => ({ ...o, nameId: ctx.attacker, attributes: { groups: ['ml-admins'] } });

/** "bearer;NotOnOrAfter=now-61s|hok;nodata" → SubjectConfirmation specs. */
function confirmations(ctx: Ctx, arg: string): ConfirmationSpec[] {
  return arg.split('|').map((one) => {
    const [method = '', ...rest] = one.split(';');
    const spec: { method: string | null; data?: Record<string, string | Date | null> | null } = {
      method: method in METHODS ? METHODS[method]! : method,
    };
    if (rest.includes('nodata')) spec.data = null;
    else spec.data = Object.fromEntries(pairs(rest.join(';')).map(([k, v]) => [k, value(ctx, v)]));
    return spec;
  });
}

const place = (xml: string, where: string, inner: string) =>
  where === 'extensions' ? afterFirstIssuer(xml, `<samlp:Extensions>${inner}</samlp:Extensions>`) : before(xml, '</saml:Assertion>', inner);

function shape(arg: string): string {
  const raw = /^raw:(.*)$/.exec(arg);
  if (raw) return raw[1]!;
  const [kind, n] = [arg.split(':')[0]!, Number(arg.split(':')[1])];
  const list = (f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('');
  switch (kind) {
    case 'siblings':
      return '<a/>'.repeat(n);
    case 'comments':
      return '<!---->'.repeat(n);
    case 'text-comments':
      return 'a<!---->'.repeat(n);
    case 'pis':
      return '<?p?>'.repeat(n);
    case 'cdata':
      return '<![CDATA[x]]>'.repeat(n);
    case 'attributes':
      return `<x ${list((i) => `a${i}="" `)}/>`;
    case 'namespaces':
      return `<x ${list((i) => `xmlns:p${i}="urn:x" `)}/>`;
    case 'nested':
      return '<a>'.repeat(n) + '</a>'.repeat(n);
    case 'spread': {
      // "spread:1000x5": 1,000 elements with 5 attributes each
      const [count, each] = arg.split(':')[1]!.split('x').map(Number) as [number, number];
      return `<x${Array.from({ length: each }, (_, i) => ` a${i}=""`).join('')}/>`.repeat(count);
    }
    default:
      throw new Error(`unknown shape ${arg}`);
  }
}

/** XSW1–XSW8 after Somorovsky et al. (2012): the genuinely signed part moved, an evil one in its place. */
function xsw(ctx: Ctx, variant: string): string {
  const o = base(ctx);
  const env = (inner: string, extensions?: string) =>
    responseEnvelope(inner, { acsUrl: ctx.s.acsUrl, inResponseTo: ctx.requestId, ...(extensions !== undefined ? { extensions } : {}) });
  const evil = assertionXml(evilOf(ctx, o), newId());
  if (variant === '1' || variant === '2') {
    const { signature, unsigned } = splitSignature(responseXml({ ...o, sign: 'response' }, ctx.s.idpKeys).xml);
    const evilResponse = env(evil);
    return variant === '1'
      ? afterFirstIssuer(evilResponse, signature.replace('</ds:Signature>', `${unsigned}</ds:Signature>`))
      : afterFirstIssuer(evilResponse, unsigned + signature);
  }
  const signed = signedAssertion(o, ctx.s.idpKeys).xml;
  const { signature, unsigned } = splitSignature(signed);
  switch (variant) {
    case '3':
      return env(evil + signed);
    case '4':
      return env(before(evil, '<saml:AuthnStatement', signed));
    case '5':
      return env(afterFirstIssuer(evil, signature) + unsigned);
    case '6':
      return env(afterFirstIssuer(evil, signature.replace('</ds:Signature>', `${unsigned}</ds:Signature>`)));
    case '7':
      return env(evil, signed);
    case '8':
      return env(afterFirstIssuer(evil, signature.replace('</ds:Signature>', `<ds:Object>${unsigned}</ds:Object></ds:Signature>`)));
    default:
      throw new Error(`unknown XSW variant ${variant}`);
  }
}

/** The 2025 xml-crypto bypasses: a genuine SignedInfo over an evil assertion with the same ID. */
function signatureTrick(ctx: Ctx, trick: string): string {
  const o = base(ctx);
  const { xml: signed, id } = signedAssertion(o, ctx.s.idpKeys);
  const genuine = splitSignature(signed).signature;
  const evil = assertionXml(evilOf(ctx, o), id);
  // The digest of the evil assertion (any key gives the same DigestValue and SignedInfo).
  const evilSignature = splitSignature(signXml(evil, id, makeKeyPair('attacker'))).signature;
  const evilDigest = /<ds:DigestValue>([^<]+)<\/ds:DigestValue>/.exec(evilSignature)![1]!;
  const evilSignedInfo = /<ds:SignedInfo>[\s\S]*?<\/ds:SignedInfo>/.exec(evilSignature)![0];
  const genuineSignedInfo = /<ds:SignedInfo>[\s\S]*?<\/ds:SignedInfo>/.exec(genuine)![0];
  let forged: string;
  if (trick === 'digest-comment') forged = genuine.replace('<ds:DigestValue>', `<ds:DigestValue><!--${evilDigest}-->`);
  else if (trick === 'second-signedinfo-after') forged = genuine.replace(genuineSignedInfo, genuineSignedInfo + evilSignedInfo);
  else if (trick === 'second-signedinfo-before') forged = genuine.replace(genuineSignedInfo, evilSignedInfo + genuineSignedInfo);
  else throw new Error(`unknown trick ${trick}`);
  return responseEnvelope(afterFirstIssuer(evil, forged), { acsUrl: ctx.s.acsUrl, inResponseTo: ctx.requestId });
}

/** Each mutation turns (context, arg) into the XML of a SAML Response. */
const MUTATIONS: Record<string, (ctx: Ctx, arg: string) => string> = {
  valid: (ctx) => responseXml(base(ctx), ctx.s.idpKeys).xml,
  sign: (ctx, arg) =>
    responseXml(
      base(ctx, arg === 'other-key' ? { signer: makeKeyPair('attacker') } : { sign: arg as ResponseOptions['sign'] }),
      ctx.s.idpKeys,
    ).xml,
  irt: (ctx, arg) => {
    const p = Object.fromEntries(pairs(arg));
    const r = value(ctx, p.response!);
    const a = value(ctx, p.assertion!);
    return responseXml(
      base(ctx, { responseInResponseTo: r as string | null, confirmations: [{ data: { InResponseTo: a } }] }),
      ctx.s.idpKeys,
    ).xml;
  },
  confirmations: (ctx, arg) => responseXml(base(ctx, { confirmations: confirmations(ctx, arg) }), ctx.s.idpKeys).xml,
  status: (ctx, arg) => {
    const uri = (v: string) => (v.includes(':') ? v : `${STATUS}${v}`);
    const [code, nested] = arg.split('/');
    return responseXml(
      base(ctx, { status: arg === 'none' ? null : { code: uri(code!), ...(nested ? { nested: uri(nested) } : {}) } }),
      ctx.s.idpKeys,
    ).xml;
  },
  groups: (ctx, arg) => responseXml(base(ctx, { attributes: { groups: JSON.parse(arg) as string[] } }), ctx.s.idpKeys).xml,
  'many-groups': (ctx, arg) =>
    responseXml(base(ctx, { attributes: { groups: Array.from({ length: Number(arg) }, (_, i) => `group-${i}`) } }), ctx.s.idpKeys).xml,
  nameid: (ctx, arg) => responseXml(base(ctx, { nameId: JSON.parse(arg) as string }), ctx.s.idpKeys).xml,
  'response-options': (ctx, arg) =>
    responseXml(base(ctx, Object.fromEntries(pairs(arg).map(([k, v]) => [k, value(ctx, v)]))), ctx.s.idpKeys).xml,
  'signature-trick': signatureTrick,
  xsw,
  shape: (ctx, arg) => {
    const [what, where = 'extensions'] = arg.split('@');
    return place(responseXml(base(ctx), ctx.s.idpKeys).xml, where, shape(what!));
  },
  doctype: (ctx, arg) => withPrologue(arg === 'xxe' ? xxeDoctype() : billionLaughsDoctype(), responseXml(base(ctx), ctx.s.idpKeys).xml),
};

interface Body {
  readonly error?: string;
  readonly message?: string;
  readonly user?: string;
  readonly groups?: string[];
}

const json = (text: string): Body => {
  try {
    return JSON.parse(text) as Body;
  } catch {
    return {};
  }
};

const sessionCookieSet = (res: Page) => res.hops.flatMap((h) => h.setCookies).some((c) => c.startsWith('gatehouse='));

const userinfo = async (s: SamlSetup, browser: TestBrowser) => {
  const cookie = browser.jar.get(s.gh.url, 'gatehouse');
  return getJson(`${s.gh.url}/.gatehouse/userinfo`, cookie ? { cookie: `gatehouse=${cookie}` } : {});
};

/** The audit record of the request that got `res`: its error code. */
async function auditedErrorCode(auditFile: string, res: Page): Promise<string | undefined> {
  const id = res.headers['x-request-id'];
  expect(typeof id, 'x-request-id on the refusal').toBe('string');
  let record: Record<string, any> | undefined;
  await waitFor(
    () => {
      const lines = (() => {
        try {
          return readFileSync(auditFile, 'utf8').split('\n').filter(Boolean);
        } catch {
          return [];
        }
      })();
      record = lines
        .map((l) => JSON.parse(l) as Record<string, any>)
        .find((r) => r.http?.request?.id === id && r.event?.action === 'http_request');
      return record !== undefined;
    },
    10_000,
    `the audit record of request ${String(id)}`,
  );
  return record!.gatehouse?.error_code;
}

/** The auth record (`action`) written with the request that got `res`. */
async function auditedAuth(auditFile: string, res: Page, action: string): Promise<Record<string, any>> {
  const id = res.headers['x-request-id'];
  let record: Record<string, any> | undefined;
  await waitFor(
    () => {
      let lines: string[] = [];
      try {
        lines = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean);
      } catch {
        lines = [];
      }
      record = lines.map((l) => JSON.parse(l) as Record<string, any>).find((r) => r.http?.request?.id === id && r.event?.action === action);
      return record !== undefined;
    },
    10_000,
    `the ${action} record of request ${String(id)}`,
  );
  return record!;
}

/** A refused sign-in's login_failed record names a reason code (docs/audit.md) and the IdP. */
async function expectReasonCode(auditFile: string, res: Page, code: string | undefined): Promise<Record<string, any> | undefined> {
  if (code !== 'GH_LOGIN_FAILED') return undefined;
  const r = await auditedAuth(auditFile, res, 'login_failed');
  expect(r.gatehouse.reason).toMatch(/^[a-z_]+(:[A-Za-z_]+)?$/);
  expect(r.gatehouse.reason).not.toBe('login_failed');
  expect(r.gatehouse.idp).toMatch(/\S/);
  return r;
}

async function expectOutcome(
  c: Case,
  s: SamlSetup,
  auditFile: string,
  browser: TestBrowser,
  res: Page,
  users: readonly string[],
): Promise<void> {
  const body = json(res.body);
  expect(res.status, res.body).toBe(c.status);
  if (c.expect === 'refuse') {
    expect(body.error, res.body).toBe(c.code);
    if (c.reason) expect(body.message, res.body).toMatch(c.reason);
    expect(sessionCookieSet(res)).toBe(false);
    for (const u of users) expect(await s.gh.current().sessions.list(u), `sessions of ${u}`).toEqual([]);
    expect(await auditedErrorCode(auditFile, res)).toBe(c.code);
    await expectReasonCode(auditFile, res, c.code);
    return;
  }
  const me = await userinfo(s, browser);
  expect(me.status, JSON.stringify(me.body)).toBe(200);
  const eq = c.check.indexOf('=');
  const check = eq < 0 ? c.check : c.check.slice(0, eq);
  const expected = c.check.slice(eq + 1);
  if (check === 'groups') expect(me.body.groups).toEqual(JSON.parse(expected));
  else if (check === 'user') expect(me.body.user).toBe(JSON.parse(expected));
  else if (check === 'group-count') expect(me.body.groups).toHaveLength(Number(expected));
  else expect(me.body.user).toBe(users[0]);
  if (c.check === 'login-cookie-cleared') {
    const cleared = res.hops.flatMap((h) => h.setCookies).filter((sc) => sc.startsWith('gatehouse-login='));
    expect(cleared, 'a Set-Cookie deleting the login cookie').toHaveLength(1);
    expect(cleared[0]).toMatch(/^gatehouse-login=;.*Max-Age=0/);
    expect(browser.jar.get(s.gh.url, 'gatehouse-login')).toBeUndefined();
  }
}

async function runAcsCase(c: Case, s: SamlSetup, auditFile: string): Promise<void> {
  const browser = new TestBrowser();
  const started = c.flow === 'sp' || c.flow === 'replay' ? await startLogin(browser, s.gh) : undefined;
  const ctx: Ctx = { s, requestId: started?.requestId, user: `u-${c.id}@example.com`, attacker: `evil-${c.id}@evil.example` };
  const xml = MUTATIONS[c.mutation]!(ctx, c.arg);
  let res = await postToAcs(browser, s.acsUrl, b64(xml), started?.relayState, 'application/json');
  if (c.flow === 'replay' || c.flow === 'replay-unsolicited') {
    expect(res.status, `first use: ${res.body}`).toBe(303);
    // The same response again: from the same browser with a fresh sign-in, or from another browser.
    const again = c.flow === 'replay' ? browser : new TestBrowser();
    if (c.flow === 'replay') again.jar.cookies.get(new URL(s.gh.url).hostname)!.delete('gatehouse');
    const fresh = c.flow === 'replay' ? await startLogin(again, s.gh) : undefined;
    res = await postToAcs(again, s.acsUrl, b64(xml), fresh?.relayState, 'application/json');
    expect(res.status, res.body).toBe(c.status);
    expect(json(res.body).error).toBe(c.code);
    if (c.reason) expect(json(res.body).message).toMatch(c.reason);
    expect(sessionCookieSet(res)).toBe(false);
    expect(await s.gh.current().sessions.list(ctx.user)).toHaveLength(1);
    expect(await auditedErrorCode(auditFile, res)).toBe(c.code);
    // A replayed assertion was verified: its record names the user it tried to sign in (from the same
    // browser the fresh sign-in's InResponseTo refuses it first).
    const failed = await expectReasonCode(auditFile, res, c.code);
    if (failed && c.flow === 'replay-unsolicited') expect([failed.gatehouse.reason, failed.user?.name]).toEqual(['replayed', ctx.user]);
    if (failed?.gatehouse.reason === 'replayed') expect(failed.user?.name).toBe(ctx.user);
    return;
  }
  const users = c.check.startsWith('user=') ? [JSON.parse(c.check.slice(5)) as string] : [ctx.user];
  await expectOutcome(c, s, auditFile, browser, res, c.expect === 'refuse' ? [...users, ctx.attacker] : users);
}

async function runSloCase(c: Case, s: SamlSetup, auditFile: string): Promise<void> {
  // Sign the case's user in first, with a SessionIndex of its own.
  const user = `u-${c.id}@example.com`;
  const sessionIndex = newId();
  const browser = new TestBrowser();
  const login = await startLogin(browser, s.gh);
  const signIn = await postToAcs(
    browser,
    s.acsUrl,
    b64(responseXml({ acsUrl: s.acsUrl, audience: SP_ENTITY, inResponseTo: login.requestId, nameId: user, sessionIndex }, s.idpKeys).xml),
    login.relayState,
  );
  expect(signIn.status, signIn.body).toBe(303);
  expect((await userinfo(s, browser)).status).toBe(200);

  const ctx: Ctx = { s, requestId: undefined, user, attacker: user };
  const id = newId();
  const o: LogoutRequestOptions = { id, nameId: user, sessionIndex, destination: sloUrlOf(s) };
  const overrides =
    c.mutation === 'logout' ? Object.fromEntries(pairs(c.arg).map(([k, v]) => [k[0]!.toLowerCase() + k.slice(1), value(ctx, v)])) : {};
  let request = logoutRequestXml({ ...o, ...overrides });
  const sloUrl = sloUrlOf(s);
  const fakeSignature = `&SigAlg=${encodeURIComponent(RSA_SHA256)}&Signature=${encodeURIComponent(Buffer.from('x'.repeat(256)).toString('base64'))}`;
  const headers = { accept: 'application/json' };
  let res: Page & { location: string | undefined };
  if (c.mutation === 'logout-shape') {
    const [kind, n] = c.arg.split(':') as [string, string];
    if (kind === 'deflate-bomb') {
      // Megabytes of XML deflate to a few kilobytes: the inflated size must be bounded too.
      request = logoutRequestXml({ ...o, nameId: 'a'.repeat(Number(n)) });
      res = await browser.fetch(`${sloUrl}?SAMLRequest=${encodeURIComponent(deflate64(request))}${fakeSignature}`, { headers });
    } else {
      request = afterFirstIssuer(request, shape(`${kind}:${n}`));
      res = await browser.fetch(sloUrl, { method: 'POST', body: new URLSearchParams({ SAMLRequest: b64(request) }).toString(), headers });
    }
  } else if (c.flow === 'slo-redirect') {
    res = await browser.fetch(`${sloUrl}?${redirectQuery('SAMLRequest', request, 'rs-1', s.idpKeys)}`, { headers });
  } else {
    res = await browser.fetch(sloUrl, {
      method: 'POST',
      body: new URLSearchParams({ SAMLRequest: b64(signXml(request, id, s.idpKeys)), RelayState: 'rs-1' }).toString(),
      headers,
    });
  }
  expect(res.status, res.body).toBe(c.status);
  if (c.expect === 'accept') {
    const to = new URL(res.location!);
    expect(`${to.origin}${to.pathname}`).toBe(`${SSO_URL}/slo`);
    expect((await userinfo(s, browser)).status, 'the session ended').toBe(401);
    expect(await s.gh.current().sessions.list(user)).toEqual([]);
    // One session_revoked record per ended session, naming its user.
    const revoked = await auditedAuth(auditFile, res, 'session_revoked');
    expect([revoked.event.reason, revoked.user?.name]).toEqual(['saml_slo', user]);
    return;
  }
  const body = json(res.body);
  expect(body.error, res.body).toBe(c.code);
  if (c.reason) expect(body.message, res.body).toMatch(c.reason);
  expect((await userinfo(s, browser)).status, 'the session lives on').toBe(200);
  expect(await s.gh.current().sessions.list(user)).toHaveLength(1);
  expect(await auditedErrorCode(auditFile, res)).toBe(c.code);
}

for (const [setupName, provider] of Object.entries(SETUPS)) {
  const rows = CASES.filter((c) => c.setup === setupName);
  describe(`SAML attack suite: ${setupName} (${rows.length} cases)`, () => {
    let s: SamlSetup;
    const auditFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-saml-suite-')), 'audit.ndjson');
    beforeAll(async () => {
      s = await startSamlSetup(
        'http://127.0.0.1:9',
        provider,
        {
          // Every case starts its sign-in from 127.0.0.1: no per-client rate limit here.
          session: {
            secret: 'saml-suite-session-secret-0123456789abcdef',
            cookie: { secure: false },
            store: 'redis',
            redis: { url: redisUrl(), key_prefix: uniquePrefix() },
            login: { rate_per_minute: 0 },
          },
          audit: { sinks: [{ type: 'file', path: auditFile }] },
        },
        { keepRunning: true },
      );
    });
    afterAll(async () => {
      await s?.gh.shutdown();
    });

    it.each(rows)(
      '$id ($expect) — $source',
      async (c) => {
        if (c.flow === 'slo-redirect' || c.flow === 'slo-post') await runSloCase(c, s, auditFile);
        else await runAcsCase(c, s, auditFile);
      },
      90_000,
    );

    it('no SAMLResponse or LogoutRequest ever reaches the audit trail', () => {
      const text = readFileSync(auditFile, 'utf8');
      expect(text.length).toBeGreaterThan(0);
      // base64 of "<samlp:Response" and of "<samlp:LogoutRequest": the start of every message posted above.
      expect(text).not.toContain(b64('<samlp:Response').slice(0, 16));
      expect(text).not.toContain(b64('<samlp:LogoutRequest').slice(0, 16));
      expect(text).not.toContain('SAMLResponse=');
    });
  });
}

it('every row of saml.cases.tsv has a known setup, flow and mutation, and a source', () => {
  const flows = new Set(['sp', 'unsolicited', 'replay', 'replay-unsolicited', 'slo-redirect', 'slo-post']);
  expect(CASES.length).toBeGreaterThan(100);
  expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
  for (const c of CASES) {
    expect(Object.keys(SETUPS), c.id).toContain(c.setup);
    expect(flows.has(c.flow), c.id).toBe(true);
    expect(c.mutation in MUTATIONS || c.mutation === 'logout' || c.mutation === 'logout-shape', c.id).toBe(true);
    expect(['accept', 'refuse'], c.id).toContain(c.expect);
    expect(c.source.length, c.id).toBeGreaterThan(5);
  }
});
