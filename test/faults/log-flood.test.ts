// Issue 12, item 8: an outage must not flood the log. `gatehouse start` runs as a child process
// with an upstream that refuses connections and an IdP that is down; hundreds of requests fail
// (502 GH_UPSTREAM_UNREACHABLE, 503 GH_IDP_UNAVAILABLE), and the pino output on stderr holds a
// constant number of warn/error lines per outage — the start of each, with its reason and no
// stack — however many requests were refused. (Redis outages: redis-outage.test.ts.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startGatehouseChild } from '../support/audit-gatehouse.ts';
import { burst } from '../support/http.ts';
import { deadPort } from '../support/upstream.ts';

interface Line {
  readonly level: string;
  readonly msg: string;
  readonly code?: string;
  readonly [k: string]: unknown;
}

const parse = (out: string): Line[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

describe('log flood during an outage', () => {
  it('hundreds of refusals (upstream down, IdP down) log O(1) warn/error lines, without stacks', { timeout: 90_000 }, async () => {
    const [upstreamPort, idpPort] = await Promise.all([deadPort(), deadPort()]);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-fault-logs-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(
      file,
      `log_level: info
server: { listen: "127.0.0.1:0", public_url: "http://127.0.0.1:4180", shutdown_timeout: "2s" }
admin: { listen: "127.0.0.1:0" }
audit: { sinks: [] }
session: { secret: "log-flood-test-secret-0123456789abcdefgh", cookie: { secure: false }, login: { rate_per_minute: 0 } }
identity_providers:
  - { id: corp, type: oidc, issuer: "http://127.0.0.1:${idpPort}", client_id: gatehouse, client_secret: not-a-real-secret }
routes:
  - { name: app, upstream: "http://127.0.0.1:${upstreamPort}", allow: { public: true } }
`,
    );
    const gh = await startGatehouseChild(file);
    const before = parse(gh.output()).length;

    const N = 400;
    const upstream = await burst(`${gh.url}/runs`, N, 20);
    const signIns = await burst(`${gh.url}/.gatehouse/login?rd=/`, N, 20);
    console.log(`refusals: upstream ${JSON.stringify(upstream)}, sign-in ${JSON.stringify(signIns)}`);
    expect(upstream).toEqual({ 502: N });
    expect(signIns).toEqual({ 503: N });

    const lines = parse(gh.output()).slice(before);
    const loud = lines.filter((l) => l.level === 'warn' || l.level === 'error');
    console.log(`warn/error lines for ${2 * N} refusals: ${loud.length} (${loud.map((l) => `${l.level} ${l.msg}`).join(' | ')})`);
    // One line per outage starting (IdP discovery failures are their own, debug after the first).
    expect(loud.filter((l) => l.code === 'GH_UPSTREAM_UNREACHABLE')).toHaveLength(1);
    expect(loud.filter((l) => l.code === 'GH_IDP_UNAVAILABLE')).toHaveLength(1);
    expect(loud.length).toBeLessThanOrEqual(4);
    expect(loud.filter((l) => JSON.stringify(l).includes('"stack"'))).toEqual([]);
    const started = loud.find((l) => l.code === 'GH_UPSTREAM_UNREACHABLE')!;
    // Upstream failures were warnings before, and stay so.
    expect(started).toMatchObject({ level: 'warn', state: 'started', route: 'app' });
    expect(String(started.err)).toMatch(/ECONNREFUSED/);
  });
});
