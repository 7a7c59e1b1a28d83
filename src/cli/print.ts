// CLI commands print their report to stdout (the log stream, pino, goes to stderr), so a command's
// output can be piped or diffed without log lines in it.
export function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * `gatehouse check-config | head -3`: when the reader goes away, stop quietly (exit 0), as other
 * Unix tools do, instead of an unhandled EPIPE with a stack trace.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}
