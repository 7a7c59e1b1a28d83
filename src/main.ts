#!/usr/bin/env node
// CLI entry: parse argv against the command table (cli/commands.ts), dispatch, map errors to exit
// codes. A user's mistake (bad option, bad config, missing file) gets one line and an exit code,
// never a stack trace; only a bug in Gatehouse prints one.
import { parseArgs } from 'node:util';
import { commandHelp, findCommand, overview, unknownCommand, usageError, type Outcome } from './cli/commands.ts';
import { exitQuietlyOnClosedPipe } from './cli/print.ts';
import { GatehouseError } from './errors.ts';

async function main(argv: readonly string[]): Promise<Outcome> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(overview());
    return 2;
  }
  if (first === '--help' || first === '-h') return write(overview());
  if (first === '--version' || first === '-V') return runCommand('version', []);
  if (first.startsWith('-')) return usageError(undefined, `unknown option "${first}" (options follow the command)`);
  return runCommand(first, rest);
}

async function runCommand(name: string, args: readonly string[]): Promise<Outcome> {
  const command = findCommand(name);
  if (!command) return unknownCommand(name);
  if (args.includes('--help') || args.includes('-h')) return write(commandHelp(command));
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util's ERR_PARSE_ARGS_* errors: say what was wrong in one line, as the user typed it.
    if (isParseArgsError(err))
      return usageError(command, ((err as Error).message.split('\n')[0] ?? '').replace(/\. To specify a positional.*$/, ''));
    throw err;
  }
  const [min, max] = command.positionals;
  if (parsed.positionals.length < min) return usageError(command, `${name}: missing argument`);
  if (parsed.positionals.length > max) return usageError(command, `${name}: unexpected argument "${parsed.positionals[max]}"`);
  return command.run(parsed);
}

function isParseArgsError(err: unknown): boolean {
  return String((err as NodeJS.ErrnoException)?.code ?? '').startsWith('ERR_PARSE_ARGS_');
}

function write(text: string): number {
  process.stdout.write(text);
  return 0;
}

/** One line for what a user can fix; the stack only for what they cannot (a bug). */
function describeFailure(err: unknown): string {
  if (err instanceof GatehouseError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE') return `${e.message} (is another Gatehouse or the demo already running?)`;
  if (e?.syscall && e.code && e.path) return `cannot ${e.syscall === 'open' ? 'read' : e.syscall} ${e.path}: ${e.code}`;
  if (e?.syscall && e.code) return `${e.syscall}: ${e.code}${e.message ? ` (${e.message})` : ''}`;
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

exitQuietlyOnClosedPipe();
main(process.argv.slice(2)).then(
  (outcome) => {
    if (outcome !== 'running') process.exitCode = outcome;
  },
  (err: unknown) => {
    process.stderr.write(`gatehouse: ${describeFailure(err)}\n`);
    process.exit(1);
  },
);
