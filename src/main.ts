#!/usr/bin/env node
// CLI entry: parse argv, dispatch to cli/*, map errors to exit codes. Nothing else.
import { parseArgs } from 'node:util';
import { ConfigError } from './errors.ts';

const USAGE = `usage: gatehouse <command> [--config PATH]

commands:
  start          run the proxy (default config: $GATEHOUSE_CONFIG or /etc/gatehouse/gatehouse.yaml)
  check-config   validate a config and print a redacted summary; exit 0 if usable, 1 if not
                 --explain [user=NAME] [groups=a,b] [email=...] METHOD URL: which route and rule decide, and why
  sp-metadata    print the SAML SP metadata for an IdP: sp-metadata --config FILE --idp ID
  audit-verify   check the hash chain of audit files: audit-verify [--key-file KEY] FILE... (oldest first)
  demo           run the demo: whoami upstream + demo IdP + Gatehouse on http://127.0.0.1:4180
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, explain: { type: 'boolean' }, idp: { type: 'string' }, 'key-file': { type: 'string' } },
  });
  const command = positionals[0];
  const configPath = values.config ?? process.env.GATEHOUSE_CONFIG ?? '/etc/gatehouse/gatehouse.yaml';
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'start': {
      const { runStart } = await import('./cli/start.ts');
      await runStart(configPath);
      return -1; // keeps running until a signal
    }
    case 'check-config': {
      const { runCheckConfig } = await import('./cli/check-config.ts');
      return runCheckConfig(configPath, undefined, values.explain ? positionals.slice(1) : undefined);
    }
    case 'sp-metadata': {
      const { runSpMetadata } = await import('./cli/sp-metadata.ts');
      return runSpMetadata(configPath, values.idp);
    }
    case 'audit-verify': {
      const { runAuditVerify } = await import('./cli/audit-verify.ts');
      return runAuditVerify(positionals.slice(1), undefined, values['key-file']);
    }
    case 'demo': {
      const { runDemo } = await import('./cli/demo.ts');
      await runDemo(values.config);
      return -1;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`gatehouse: ${err.message}\n`);
    else if ((err as NodeJS.ErrnoException)?.code === 'EADDRINUSE') process.stderr.write(`gatehouse: ${(err as Error).message} (is another Gatehouse or the demo already running?)\n`);
    else process.stderr.write(`gatehouse: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
