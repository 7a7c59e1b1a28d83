// A real Debian rsyslog as the SIEM-side receiver for fault drills: its own config, pid file, work
// directory and loopback port, run in the foreground (`rsyslogd -n -f <conf> -i <pid>`), SIGKILLed
// and restarted on the same port, writing the MSG part of every Gatehouse message to one file.
// The main queue is "Direct": rsyslog writes a message to the file before it reads (and, for
// RELP, acknowledges) the next one, so what the file holds is exactly what rsyslog took.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { freePort, waitForPort } from './ports.ts';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));
const MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/rsyslog', '/usr/lib/aarch64-linux-gnu/rsyslog', '/usr/lib/rsyslog'];

/** Throws with the package to install when rsyslogd or the input module is missing (CI installs both). */
export function requireRsyslog(input: 'relp' | 'tcp'): string {
  if (!RSYSLOGD) throw new Error('rsyslogd not found: apt-get install rsyslog');
  const mod = input === 'relp' ? 'imrelp.so' : 'imtcp.so';
  if (!MODULE_DIRS.some((d) => existsSync(join(d, mod))))
    throw new Error(`${mod} not found: apt-get install ${input === 'relp' ? 'rsyslog-relp' : 'rsyslog'}`);
  return RSYSLOGD;
}

export interface RsyslogReceiver {
  readonly port: number;
  /** The file rsyslog writes, one MSG per line. */
  readonly outFile: string;
  /** Lines rsyslog wrote so far (complete lines only). */
  lines(): string[];
  /** Start (or restart) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGKILL: no flush, no goodbye; resolves once the process is gone. */
  kill(): Promise<void>;
  readonly running: boolean;
  /** rsyslog's own stderr (diagnostics for a failing test). */
  output(): string;
}

export interface RsyslogOptions {
  readonly input: 'relp' | 'tcp';
  /** TLS on the input: PEM files for rsyslog's certificate and key. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

export async function startRsyslog(o: RsyslogOptions): Promise<RsyslogReceiver> {
  const bin = requireRsyslog(o.input);
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-rsyslog-${o.input}-`));
  const work = join(dir, 'work');
  mkdirSync(work);
  const outFile = join(dir, 'out.log');
  const conf = join(dir, 'rsyslog.conf');
  const pidFile = join(dir, 'rsyslog.pid');
  const port = await freePort();
  const tls = o.tls
    ? o.input === 'relp'
      ? ` tls="on" tls.mycert="${o.tls.certFile}" tls.myprivkey="${o.tls.keyFile}" tls.authmode="anon"`
      : ''
    : '';
  writeFileSync(
    conf,
    [
      `global(workDirectory="${work}" maxMessageSize="64k")`,
      'main_queue(queue.type="Direct")',
      o.input === 'relp' ? 'module(load="imrelp")' : 'module(load="imtcp")',
      o.input === 'relp'
        ? `input(type="imrelp" port="${port}" address="127.0.0.1" maxDataSize="64k"${tls})`
        : `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      'template(name="msgonly" type="string" string="%msg%\\n")',
      // Only Gatehouse's messages: rsyslog's own start/stop notices go nowhere.
      `if $app-name == "gatehouse" then { action(type="omfile" file="${outFile}" template="msgonly") }`,
      '',
    ].join('\n'),
  );
  const check = spawnSync(bin, ['-N1', '-f', conf], { encoding: 'utf8', timeout: 20_000 });
  if (check.status !== 0) throw new Error(`rsyslog config refused:\n${check.stdout}${check.stderr}`);

  let proc: ChildProcess | undefined;
  let stderr = '';
  const kill = async () => {
    const p = proc;
    if (!p) return;
    proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await exited;
  };
  const start = async () => {
    if (proc) return;
    rmSync(pidFile, { force: true });
    const p = spawn(bin, ['-n', '-f', conf, '-i', pidFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + String(d)).slice(-20_000);
    });
    proc = p;
    const died = new Promise<never>((_, reject) =>
      p.once('exit', (code, sig) => reject(new Error(`rsyslogd exited (${code ?? sig}):\n${stderr}`))),
    );
    died.catch(() => {});
    await Promise.race([waitForPort(port, 20_000, 'rsyslogd'), died]);
  };
  onTestFinished(async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    port,
    outFile,
    lines() {
      if (!existsSync(outFile)) return [];
      const text = readFileSync(outFile, 'utf8');
      const end = text.lastIndexOf('\n');
      return end < 0 ? [] : text.slice(0, end).split('\n');
    },
    start,
    kill,
    get running() {
      return proc !== undefined;
    },
    output: () => stderr,
  };
}
