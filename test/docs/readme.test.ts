// Docs that are executed (issue 17): every command block in README.md and docs/*.md marked for this
// test runs as written (in a temporary directory, `npx gatehouse` being the package bin) or, where
// it cannot run here (a system path, Docker, a server that runs for ever), is checked against the
// command's own --help; every YAML config in the README is validated by `gatehouse check-config`;
// documented output must match. Markers are HTML comments before a block (see markdown-blocks.ts).
// Ports the docs name (4180, 4181, 4190, 4191, 4280, 4281, Redis's 6379) are mapped to free ones
// and to the test run's Redis, so the test does not collide with a demo someone is running.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { TestBrowser } from '../support/browser-http.ts';
import { CHILD_TEST_TIMEOUT_MS, CHILD_WAIT_MS } from '../support/child.ts';
import { USERS } from '../support/oidc.ts';
import { freePort } from '../support/ports.ts';
import { redisUrl } from '../support/redis.ts';
import { codeBlocks, shellLines, transcript, type Block } from './markdown-blocks.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const LAUNCHER = join(ROOT, 'src/cli/launcher.mjs');
const DOC_PORTS = [4180, 4181, 4190, 4191, 4280, 4281];
/** Programs a `help` block may name besides gatehouse: not run here, named so nothing slips through. */
const EXTERNAL = new Set(['npm', 'docker', 'sudo', 'redis-server', 'curl', 'openssl', 'bash', 'kill']);
// Hex: a value that also has to fit in a URL (redis://:${env:REDIS_PASSWORD}@…) as documented.
const secret = () => randomBytes(32).toString('hex');
/** What `${env:…}` in the documented configs reads (the docs tell users to set these). */
const ENV: Record<string, string> = {
  GATEHOUSE_ADMIN_TOKEN: secret(),
  REDIS_PASSWORD: secret(),
  GATEHOUSE_SECRET: secret(),
  OIDC_SECRET: secret(),
  HEC_TOKEN: secret(),
  PORT: '4180',
  ADMIN_PORT: '4181',
};
/** A fragment (one section of a config) is checked inside this much of a config. */
const FRAGMENT_BASE = {
  server: { public_url: 'https://ml.corp.example' },
  identity_providers: [
    { id: 'corp', type: 'oidc', issuer: 'https://idp.corp.example', client_id: 'gatehouse', client_secret: '${env:OIDC_SECRET}' },
  ],
  routes: [{ name: 'app', upstream: 'http://127.0.0.1:5000', allow: { authenticated: true } }],
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let dir = '';
let portMap = new Map<string, string>();
const background: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-docs-'));
  mkdirSync(join(dir, 'secrets'));
  const redis = new URL(redisUrl());
  portMap = new Map([['127.0.0.1:6379', redis.host]]);
  for (const p of DOC_PORTS) portMap.set(String(p), String(await freePort()));
});

afterAll(async () => {
  await Promise.all(
    background.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('close', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
});

/** The documented text as it runs here: the package bin for `npx gatehouse`, mapped ports. */
function localise(text: string): string {
  let out = text.replaceAll('npx gatehouse', `node ${LAUNCHER}`);
  for (const [from, to] of portMap) out = out.replace(new RegExp(`(?<![\\d.])${from.replace(/\./g, '\\.')}(?!\\d)`, 'g'), to);
  return out;
}

function sh(command: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'sh',
      ['-c', localise(command)],
      { cwd: dir, env: { ...process.env, ...ENV }, timeout: CHILD_WAIT_MS },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A config file as documented, with `${file:/abs}` secrets read from files made here. */
function writeConfig(name: string, text: string): void {
  const withFiles = text.replace(/\$\{file:(\/[^}]+)\}/g, (_, path: string) => {
    const local = join(dir, 'secrets', basename(path));
    writeFileSync(local, `${secret()}\n`);
    return `\${file:${local}}`;
  });
  writeFileSync(join(dir, name), localise(withFiles));
}

async function checkConfig(name: string, expectValid: boolean): Promise<void> {
  const r = await sh(`npx gatehouse check-config --config ${name}`);
  expect(r.stderr, r.stdout).not.toMatch(/\n\s+at /);
  expect(r.code, `${name}:\n${r.stdout}${r.stderr}`).toBe(expectValid ? 0 : 1);
}

const helpCache = new Map<string, Promise<Run>>();

/** A command that cannot run here: gatehouse ones must exist and take the options used. */
async function checkWithHelp(line: string): Promise<void> {
  for (const part of line
    .replace(/\s#.*$/, '')
    .split('&&')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const words = part.split(/\s+/);
    // `docker run … gatehouse check-config --config …`: the image's entrypoint is the gatehouse command.
    const image = words[0] === 'docker' && words[1] === 'run' ? words.lastIndexOf('gatehouse') : -1;
    const args =
      words[0] === 'npx' && words[1] === 'gatehouse'
        ? words.slice(2)
        : image > 0 && image + 1 < words.length
          ? words.slice(image + 1)
          : undefined;
    if (args) {
      const command = args[0] ?? '';
      if (!helpCache.has(command)) helpCache.set(command, sh(`npx gatehouse ${command} --help`));
      const help = await helpCache.get(command)!;
      expect(help.code, `${part}: ${help.stderr}`).toBe(0);
      for (const option of args.filter((w) => w.startsWith('--'))) expect(help.stdout, `${part}: ${option}`).toContain(option);
    } else {
      expect(EXTERNAL.has(words[0] ?? ''), `"${part}": not a gatehouse command nor a known external one`).toBe(true);
    }
  }
}

/** stdout as documented: every line equal, "..." standing for any lines. */
function expectOutput(actual: string, documented: readonly string[]): void {
  const want = documented.join('\n').replace(/\n+$/, '');
  if (!want.includes('...')) {
    expect(actual.replace(/\n+$/, '')).toBe(want);
    return;
  }
  const pattern = want
    .split('\n')
    .map((l) => (l === '...' ? '[\\s\\S]*' : l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('\n');
  expect(actual).toMatch(new RegExp(`^${pattern}`));
}

async function runBlock(b: Block): Promise<void> {
  const exit = Number(b.args.find((a) => a.startsWith('exit='))?.slice(5) ?? 0);
  const steps =
    b.body.includes('\n$ ') || b.body.startsWith('$ ')
      ? transcript(b.body)
      : shellLines(b.body).map((command) => ({ command, output: [] as string[] }));
  for (const step of steps) {
    const r = await sh(step.command);
    expect(r.code, `${step.command}\n${r.stdout}${r.stderr}`).toBe(exit);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    if (step.output.length > 0) expectOutput(r.stdout, step.output);
  }
}

/** Start each documented long-running command (the block's exports apply to all) until it listens. */
async function startBackground(b: Block): Promise<void> {
  const lines = shellLines(b.body);
  const exports = lines.filter((l) => l.startsWith('export '));
  await Promise.all(
    lines
      .filter((l) => !l.startsWith('export '))
      .map(
        (line) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn('sh', ['-c', localise(`${exports.join('\n')}\nexec env ${line.replace(/\s#.*$/, '')}`)], {
              cwd: dir,
              env: { ...process.env },
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            background.push(child);
            let out = '';
            const timer = setTimeout(() => reject(new Error(`${line}: not listening within ${CHILD_WAIT_MS} ms:\n${out}`)), CHILD_WAIT_MS);
            const onData = (d: Buffer) => {
              out += String(d);
              if (out.includes('gatehouse listening')) {
                clearTimeout(timer);
                resolve();
              }
            };
            child.stdout.on('data', onData);
            child.stderr.on('data', onData);
            child.once('close', (code) => {
              clearTimeout(timer);
              reject(new Error(`${line}: exited (${code}) before listening:\n${out}`));
            });
          }),
      ),
  );
}

/** Two replicas, one Redis: a session made on the first is known to the second. */
async function checkSharedSession(): Promise<void> {
  const first = `http://127.0.0.1:${portMap.get('4180')}/`;
  const second = `http://127.0.0.1:${portMap.get('4280')}/`;
  const alice = new TestBrowser();
  const page = await alice.go(first, USERS.alice);
  expect(page.status, page.body).toBe(200);
  expect(page.body).toContain('alice@example.com');
  const other = await alice.fetch(second);
  expect(other.status, other.body).toBe(200);
  expect(other.body).toContain('alice@example.com');
}

async function checkBlock(b: Block): Promise<void> {
  const isYaml = b.lang === 'yaml' || b.lang === 'yml';
  switch (b.kind) {
    case 'skip':
      expect(b.args.length, 'a skipped block says why').toBeGreaterThan(0);
      return;
    case 'help':
      for (const line of shellLines(b.body)) await checkWithHelp(line);
      return;
    case 'run':
      return runBlock(b);
    case 'background':
      await startBackground(b);
      if (b.args.includes('shared-session')) await checkSharedSession();
      return;
    case 'file': {
      const [name = '', ...rest] = b.args;
      writeConfig(name, b.body);
      return checkConfig(name, !rest.includes('invalid'));
    }
    case 'fragment': {
      const name = b.args[0] ?? `fragment-${b.line}.yaml`;
      writeConfig(name, stringify({ ...FRAGMENT_BASE, ...(parse(b.body) as object) }));
      return checkConfig(name, true);
    }
    case 'config':
    case undefined:
      // A YAML block without a marker is a whole config, like one with `config`.
      expect(isYaml || b.kind === 'config', `${b.file}:${b.line}: unmarked ${b.lang} block`).toBe(true);
      writeConfig(`snippet-${b.line}.yaml`, b.body);
      return checkConfig(`snippet-${b.line}.yaml`, true);
    default:
      throw new Error(`${b.file}:${b.line}: unknown docs-test marker "${b.kind}"`);
  }
}

const files = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe.each(files)('%s', (file) => {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const blocks = codeBlocks(file, text);

  it('uses the documented command forms only', () => {
    // `npm start -- <command>` runs `start` with the words ignored; `node src/main.ts` needs Node 24.
    expect(text).not.toMatch(/npm start -- |npm run (check-config|demo)\b/);
  });

  it('marks every block that runs Gatehouse', () => {
    // An unmarked block with a gatehouse command would be a command nobody checks.
    const unmarked = blocks
      .filter((b) => b.kind === undefined && /npx gatehouse|src\/main\.ts/.test(b.body))
      .map((b) => `${file}:${b.line}`);
    expect(unmarked).toEqual([]);
  });

  for (const b of blocks.filter((x) => x.kind !== undefined || x.lang === 'yaml' || x.lang === 'yml')) {
    it(`${b.kind ?? 'config'} block at line ${b.line}`, { timeout: CHILD_TEST_TIMEOUT_MS }, () => checkBlock(b));
  }
});
