#!/usr/bin/env node
// The package `bin`: `npx gatehouse <command>`. Gatehouse is TypeScript run by Node 24's type
// stripping, but the `node` that starts this file may be an older system Node. Plain JavaScript
// that any Node can read: on Node >= 24 it runs src/main.ts in this process; otherwise it runs it
// on the pinned Node from the `node` dev dependency, or says in one line what is missing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAIN = new URL('../main.ts', import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

if (major >= 24) {
  await import(MAIN.href);
} else {
  const pinned = fileURLToPath(new URL('../../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `gatehouse: needs Node 24 or later (this is ${process.version}); run "npm ci" in the checkout to install the pinned Node\n`,
    );
    process.exit(1);
  }
  const child = spawn(pinned, [fileURLToPath(MAIN), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches both processes (same process group); the child decides how to stop. A signal
  // sent to this process alone (kill PID) is passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
