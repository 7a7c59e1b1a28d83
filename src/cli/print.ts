// CLI commands print their report to stdout (the log stream, pino, goes to stderr), so a command's
// output can be piped or diffed without log lines in it.

// A reader that stops early (`gatehouse check-config | head`) closes the pipe: that is not an
// error of ours, so exit quietly as other Unix tools do instead of dying on an unhandled EPIPE.
let guarded = false;
function guardPipe(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

export function printLine(line: string): void {
  guardPipe();
  process.stdout.write(`${line}\n`);
}

/** At start-up, for output written before or besides printLine (help, usage, sp-metadata). */
export function exitQuietlyOnClosedPipe(): void {
  guardPipe();
  // Help and usage go to stderr too (`gatehouse 2>&1 | head -1`).
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
