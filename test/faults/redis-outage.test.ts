// Issue 12, items 4 and 8: Redis paused (SIGSTOP: it still accepts TCP but answers nothing) and
// killed under requests, with a redis-server of the test's own. /readyz must follow what Redis
// does (a PING bounded by command_timeout), not the client's connection state; protected routes
// answer 503 and public ones keep working; and the operational log reports the outage as a state
// change with counts, not one error line (with a stack) per refused request.
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { burst, getJson } from '../support/http.ts';
import { freePort, waitForPort } from '../support/ports.ts';
import { sessionCookie } from '../support/signed-in.ts';
import { startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [k: string]: unknown;
}

/** An in-process pino logger whose lines the test can read. */
function capturedLogger(level: 'info' | 'debug' = 'info') {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { log: createLogger(level, stream), lines };
}

/** A redis-server of this test's own that can be paused, resumed, killed and started again. */
async function ownRedis() {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForPort(port, 10_000, 'own redis-server not');
  };
  const kill = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  };
  await start();
  onTestFinished(kill);
  return {
    url: `redis://127.0.0.1:${port}`,
    pause: () => proc!.kill('SIGSTOP'),
    resume: () => proc!.kill('SIGCONT'),
    kill,
    start,
  };
}

const metric = async (adminUrl: string, name: string) => {
  const text = await (await request(`${adminUrl}/metrics`)).body.text();
  const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

describe('Redis paused and killed', () => {
  it('/readyz follows a bounded PING; protected routes 503, public ones 200; the outage is logged once, with counts', {
    timeout: 120_000,
  }, async () => {
    const redis = await ownRedis();
    const up = await startUpstream();
    const { log, lines } = capturedLogger();
    const gh = await startTestGatehouse(
      {
        log_level: 'info',
        server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180' },
        admin: { listen: '127.0.0.1:0' },
        session: {
          store: 'redis',
          redis: { url: redis.url, key_prefix: 'fault:', command_timeout: '500ms' },
          secret: 'redis-fault-test-secret-0123456789abcdef',
          cookie: { secure: false },
        },
        routes: [
          { name: 'open', path: '/open', upstream: up.url, allow: { public: true } },
          { name: 'app', path: '/', upstream: up.url, allow: { authenticated: true } },
        ],
      },
      { log },
    );
    const cookie = await sessionCookie(gh, { user: 'alice@corp.example', groups: ['ml'] });
    const protectedUrl = `${gh.url}/runs`;
    const readyz = () => getJson(`${gh.adminUrl}/readyz`);
    expect((await getJson(protectedUrl, { cookie })).status).toBe(200);
    expect((await readyz()).status).toBe(200);
    expect(await metric(gh.adminUrl, 'gatehouse_session_store_up')).toBe(1);

    // Paused: the TCP connection stays up, so the client still says "ready"; only a PING tells.
    redis.pause();
    const outageStart = lines.length;
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 200 }).toBe(503);
    expect(gh.current().sessions.store.isReady()).toBe(true);
    expect((await readyz()).body.checks.session_store).toMatch(/^redis: unavailable/);
    expect(await metric(gh.adminUrl, 'gatehouse_session_store_up')).toBe(0);
    // The 1-second session cache is a bounded fail-open window; once it has passed, every
    // protected request is refused, every public one still served.
    await expect.poll(async () => (await getJson(protectedUrl, { cookie })).status, { timeout: 20_000, interval: 100 }).toBe(503);
    const N = 300;
    const refused = await burst(protectedUrl, N, 30, { cookie });
    const open = await burst(`${gh.url}/open/x`, 100, 10, { cookie });
    console.log(`redis paused: protected ${JSON.stringify(refused)}, public ${JSON.stringify(open)}`);
    expect(refused).toEqual({ 503: N });
    expect(open).toEqual({ 200: 100 });

    // Hundreds of refusals, a handful of warn/error lines, and no stacks.
    const during = lines.slice(outageStart).filter((l) => l.level === 'warn' || l.level === 'error');
    console.log(`log lines at warn/error during the pause: ${during.length} (${during.map((l) => l.msg).join(' | ')})`);
    expect(during.length).toBeLessThanOrEqual(4);
    expect(during.filter((l) => JSON.stringify(l).includes('"stack"'))).toEqual([]);
    expect(during.some((l) => l.code === 'GH_STORE_UNAVAILABLE')).toBe(true);

    // Resumed: ready again, and the sessions are still there.
    redis.resume();
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 200 }).toBe(200);
    await expect.poll(async () => (await getJson(protectedUrl, { cookie })).status, { timeout: 20_000, interval: 100 }).toBe(200);
    // The end of the episode is logged once, with how many requests it refused.
    const ended = () => lines.slice(outageStart).find((l) => l.code === 'GH_STORE_UNAVAILABLE' && l.state === 'ended');
    await expect.poll(ended, { timeout: 40_000, interval: 250 }).toBeDefined();
    const over = ended()!;
    expect(over.refused_total).toBeGreaterThanOrEqual(N + 1);

    // Killed: not ready within a PING; started again (empty): ready again.
    await redis.kill();
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 200 }).toBe(503);
    await redis.start();
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 200 }).toBe(200);
    expect(await metric(gh.adminUrl, 'gatehouse_session_store_up')).toBe(1);
  });
});
