// The `gatehouse` command as a user runs it: the package bin (src/cli/launcher.mjs) started as a
// real child, on whatever `node` is first on PATH (an older system Node must still reach Node 24).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHILD_TEST_TIMEOUT_MS } from '../support/child.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const LAUNCHER = new URL('../../src/cli/launcher.mjs', import.meta.url).pathname;
const DEMO = new URL('../../config/demo.yaml', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gatehouse(args: readonly string[], node = 'node'): Promise<Run> {
  return new Promise((resolve) => {
    execFile(node, [LAUNCHER, ...args], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const STACK = /\n\s+at /;

describe('gatehouse CLI', { timeout: CHILD_TEST_TIMEOUT_MS }, () => {
  it('package.json bin points at the launcher, which runs on the pinned Node whatever node starts it', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ gatehouse: 'src/cli/launcher.mjs' });
    const r = await gatehouse(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gatehouse \d+\.\d+\.\d+ \(node v(2[4-9]|[3-9]\d)\./);
    // `npx gatehouse` from the checkout is npm running that bin (the README's form).
    const viaNpx = await new Promise<Run>((resolve) => {
      execFile('npx', ['--offline', 'gatehouse', 'version'], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    expect(viaNpx.code, viaNpx.stderr).toBe(0);
    expect(viaNpx.stdout).toBe(r.stdout);
    // The system Node (this machine has Node 20): the launcher hands over to the pinned one.
    const system = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
    if (system) {
      const viaSystem = await gatehouse(['version'], system);
      expect(viaSystem.stdout).toMatch(/^gatehouse \d+\.\d+\.\d+ \(node v(2[4-9]|[3-9]\d)\./);
    }
  });

  it("help, help COMMAND and COMMAND --help: the overview, then each command's own options and example", async () => {
    const [overview, help, flag] = await Promise.all([
      gatehouse(['help']),
      gatehouse(['help', 'sp-metadata']),
      gatehouse(['check-config', '--help']),
    ]);
    expect(overview.code).toBe(0);
    for (const c of ['start', 'demo', 'check-config', 'sp-metadata', 'audit-verify', 'version', 'help'])
      expect(overview.stdout).toContain(`  ${c} `);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: gatehouse sp-metadata [--config PATH] [--idp ID]');
    expect(help.stdout).toContain('--idp ID');
    expect(help.stdout).toMatch(/example:\n {2}gatehouse sp-metadata /);
    expect(flag.code).toBe(0);
    expect(flag.stdout).toContain('--explain');
    expect(flag.stdout).not.toContain('--idp');
  });

  it('unknown commands, unknown options and missing arguments: one line, the usage, exit 2, no stack', async () => {
    const runs = await Promise.all([
      gatehouse(['frobnicate']),
      gatehouse(['start', '--frob']),
      gatehouse(['audit-verify']),
      gatehouse(['check-config', '--config', DEMO, '--explain', 'groups=a', 'GET']),
      gatehouse(['check-config', '--config', DEMO, '--explain', 'role=x', 'GET', '/']),
      gatehouse([]),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stderr).toMatch(/usage: gatehouse/);
    }
    expect(runs[0]!.stderr.split('\n')[0]).toBe('gatehouse: unknown command "frobnicate"');
    expect(runs[1]!.stderr).toMatch(/^gatehouse: Unknown option '--frob'\nusage: gatehouse start \[--config PATH\]\n/);
    expect(runs[3]!.stderr.split('\n')[0]).toContain('missing URL');
    expect(runs[4]!.stderr.split('\n')[0]).toContain('unknown identity attribute "role="');
  });

  it('user errors (a missing file) are one line, exit 1, no stack', async () => {
    const [audit, check] = await Promise.all([
      gatehouse(['audit-verify', '/nonexistent/audit.ndjson']),
      gatehouse(['check-config', '--config', '/nonexistent/g.yaml']),
    ]);
    expect(audit).toMatchObject({ code: 1, stdout: '', stderr: 'gatehouse: cannot read /nonexistent/audit.ndjson: ENOENT\n' });
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('cannot read config file /nonexistent/g.yaml: ENOENT');
    expect(check.stderr).not.toMatch(STACK);
  });

  it('--explain: any identity attribute makes an identity', async () => {
    const r = await gatehouse(['check-config', '--config', DEMO, '--explain', 'groups=ml-admins', 'GET', 'http://127.0.0.1:4180/']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('identity: (unnamed user) (groups: ml-admins)');
    expect(r.stdout).toContain('ALLOW');
  });

  it('output to a closed pipe ends quietly', async () => {
    // `gatehouse help | true`: the reader is gone before the write.
    const r = await new Promise<Run>((resolve) => {
      execFile('sh', ['-c', `node ${LAUNCHER} help | true; echo "rc=$?"`], { cwd: ROOT }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('rc=0\n');
  });
});
