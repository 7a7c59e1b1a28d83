// CLI commands print their report to stdout (the log stream, pino, goes to stderr), so a command's
// output can be piped or diffed without log lines in it.
export function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}
