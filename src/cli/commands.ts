// The `gatehouse` commands as one table: each command's options, usage line, help text and
// example live next to how it runs, so `gatehouse help X`, `gatehouse X --help`, the argument
// parser and the README (checked by test/docs) cannot disagree about what a command accepts.
import { readFileSync } from 'node:fs';
import type { ParseArgsOptionsConfig } from 'node:util';

export const DEFAULT_CONFIG = '/etc/gatehouse/gatehouse.yaml';

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

/** What a command returns: an exit code, or 'running' for a server that stops on a signal. */
export type Outcome = number | 'running';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly details: string;
  readonly example: string;
  readonly options: ParseArgsOptionsConfig;
  /** Positional arguments after the command name: [min, max]. */
  readonly positionals: readonly [number, number];
  run(args: Parsed): Promise<Outcome>;
}

const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;
const CONFIG_HELP = `  -c, --config PATH   config file (default: $GATEHOUSE_CONFIG, else ${DEFAULT_CONFIG})`;

function configPath(args: Parsed): string {
  const given = args.values.config;
  return typeof given === 'string' ? given : (process.env.GATEHOUSE_CONFIG ?? DEFAULT_CONFIG);
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'start',
    summary: 'run the proxy',
    usage: 'gatehouse start [--config PATH]',
    details: `${CONFIG_HELP}\nRuns until SIGTERM or Ctrl-C (drains first). SIGHUP reloads the config.`,
    example: 'gatehouse start --config /etc/gatehouse/gatehouse.yaml',
    options: CONFIG_OPTION,
    positionals: [0, 0],
    async run(args) {
      const { runStart } = await import('./start.ts');
      await runStart(configPath(args));
      return 'running';
    },
  },
  {
    name: 'demo',
    summary: 'run the demo: whoami upstream + demo IdP + Gatehouse on http://127.0.0.1:4180',
    usage: 'gatehouse demo [--config PATH]',
    details:
      '  -c, --config PATH   a config to run instead of config/demo.yaml; its loopback OIDC providers\n' +
      '                      are started as demo IdPs (users alice, bob, carol; password "demo")',
    example: 'gatehouse demo --config demo-redis.yaml',
    options: CONFIG_OPTION,
    positionals: [0, 0],
    async run(args) {
      const { runDemo } = await import('./demo.ts');
      await runDemo(typeof args.values.config === 'string' ? args.values.config : undefined);
      return 'running';
    },
  },
  {
    name: 'check-config',
    summary: 'validate a config and show what will run; exit 0 if usable, 1 if not',
    usage: 'gatehouse check-config [--config PATH] [--online] [--explain [user=NAME] [email=ADDR] [groups=a,b] [idp=ID] METHOD URL]',
    details:
      `${CONFIG_HELP}\n` +
      "  --online            also fetch each identity provider's discovery document or metadata URL\n" +
      '  --explain           which route and rule decide a request, and why (no network). Any of\n' +
      '                      user=, email=, groups=, idp= makes a signed-in identity; none: anonymous',
    example: 'gatehouse check-config --config gatehouse.yaml --explain user=bob groups=ml-engineers GET https://mlflow.corp.example/',
    options: { ...CONFIG_OPTION, explain: { type: 'boolean' }, online: { type: 'boolean' } },
    positionals: [0, 6],
    async run(args) {
      const { checkOnline, runCheckConfig } = await import('./check-config.ts');
      const { parseExplainArgs, EXPLAIN_USAGE } = await import('./explain.ts');
      if (!args.values.explain) {
        if (args.positionals.length > 0) return usageError(this, `unexpected argument "${args.positionals[0]}"`);
        const code = runCheckConfig(configPath(args));
        return code === 0 && args.values.online ? checkOnline(configPath(args)) : code;
      }
      const parsed = parseExplainArgs(args.positionals);
      if (typeof parsed === 'string') return usageError(this, `${parsed} (${EXPLAIN_USAGE})`);
      return runCheckConfig(configPath(args), undefined, args.positionals);
    },
  },
  {
    name: 'sp-metadata',
    summary: 'print the SAML SP metadata to upload to an IdP',
    usage: 'gatehouse sp-metadata [--config PATH] [--idp ID]',
    details: `${CONFIG_HELP}\n  --idp ID            the SAML identity provider (optional when the config has exactly one)`,
    example: 'gatehouse sp-metadata --config gatehouse.yaml --idp okta-saml > sp-metadata.xml',
    options: { ...CONFIG_OPTION, idp: { type: 'string' } },
    positionals: [0, 0],
    async run(args) {
      const { runSpMetadata } = await import('./sp-metadata.ts');
      return runSpMetadata(configPath(args), typeof args.values.idp === 'string' ? args.values.idp : undefined);
    },
  },
  {
    name: 'audit-verify',
    summary: 'check the hash chain of audit files; exit 0 if intact, 1 if not',
    usage: 'gatehouse audit-verify [--key-file KEY] FILE...',
    details:
      '  --key-file KEY      the chain key (audit.chain_key_file): a keyed trail verifies only with it\n' +
      '  FILE...             audit files, oldest first (audit.ndjson.2 audit.ndjson.1 audit.ndjson)',
    example:
      'gatehouse audit-verify --key-file /etc/gatehouse/audit-chain.key /var/log/gatehouse/audit.ndjson.1 /var/log/gatehouse/audit.ndjson',
    options: { 'key-file': { type: 'string' } },
    positionals: [1, Number.MAX_SAFE_INTEGER],
    async run(args) {
      const { runAuditVerify } = await import('./audit-verify.ts');
      const keyFile = args.values['key-file'];
      return runAuditVerify(args.positionals, undefined, typeof keyFile === 'string' ? keyFile : undefined);
    },
  },
  {
    name: 'login',
    summary: 'sign in to a Gatehouse from the command line and cache a user token for scripts',
    usage: 'gatehouse login <base-url> [--device] [--no-browser]',
    details:
      '  <base-url>          the Gatehouse address you use in the browser (https://mlflow.corp.example)\n' +
      "  --device            sign in with the identity provider's device code (headless machines);\n" +
      '                      falls back to the browser sign-in where the provider offers none\n' +
      '  --no-browser        print the sign-in URL instead of opening a browser\n' +
      'Tokens are cached in ${XDG_CONFIG_HOME:-~/.config}/gatehouse/tokens.json (mode 0600).',
    example: 'gatehouse login https://mlflow.corp.example',
    options: { device: { type: 'boolean' }, 'no-browser': { type: 'boolean' } },
    positionals: [1, 1],
    async run(args) {
      const { runLogin } = await import('./login.ts');
      return runLogin(args.positionals[0]!, { device: args.values.device === true, noBrowser: args.values['no-browser'] === true });
    },
  },
  {
    name: 'token',
    summary: 'print a current user token for a Gatehouse you logged in to (refreshed when due)',
    usage: 'gatehouse token <base-url>',
    details: '  <base-url>          the address given to gatehouse login\nExit 1 with one line on stderr when not logged in.',
    example: 'export MLFLOW_TRACKING_TOKEN=$(gatehouse token https://mlflow.corp.example)',
    options: {},
    positionals: [1, 1],
    async run(args) {
      const { runToken } = await import('./login.ts');
      return runToken(args.positionals[0]!);
    },
  },
  {
    name: 'version',
    summary: 'print the Gatehouse and Node versions',
    usage: 'gatehouse version',
    details: '',
    example: 'gatehouse version',
    options: {},
    positionals: [0, 0],
    async run() {
      process.stdout.write(`gatehouse ${packageVersion()} (node ${process.version})\n`);
      return 0;
    },
  },
  {
    name: 'help',
    summary: "this overview, or one command's options and an example",
    usage: 'gatehouse help [COMMAND]',
    details: '',
    example: 'gatehouse help check-config',
    options: {},
    positionals: [0, 1],
    async run(args) {
      const name = args.positionals[0];
      if (name === undefined) {
        process.stdout.write(overview());
        return 0;
      }
      const command = findCommand(name);
      if (!command) return unknownCommand(name);
      process.stdout.write(commandHelp(command));
      return 0;
    },
  },
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const rows = COMMANDS.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`).join('\n');
  return `usage: gatehouse <command> [options]\n\ncommands:\n${rows}\n\n"gatehouse help <command>" or "gatehouse <command> --help" shows a command's options and an example.\n`;
}

export function commandHelp(c: Command): string {
  return `usage: ${c.usage}\n\n${c.summary}\n${c.details ? `\n${c.details}\n` : ''}\nexample:\n  ${c.example}\n`;
}

/** A one-line complaint and the usage on stderr; exit 2 (the shell convention for bad usage). */
export function usageError(c: Command | undefined, message: string): number {
  process.stderr.write(`gatehouse: ${message}\n${c ? `usage: ${c.usage}\n"gatehouse help ${c.name}" for more.\n` : overview()}`);
  return 2;
}

export function unknownCommand(name: string): number {
  return usageError(undefined, `unknown command "${name}"`);
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
