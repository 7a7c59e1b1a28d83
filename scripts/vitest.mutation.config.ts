// Vitest config for mutation runs (scripts/mutation.ts). Only the test files named in
// GATEHOUSE_MUTATION_TESTS (comma-separated) are collected: the module's own unit tests. They need
// no Redis, so the global setup that starts one is left out.
//
// The test files are chosen here rather than with Stryker's `testFiles` option because, with that
// option, Stryker 10.1 activates static mutants (code run at import time) only after the modules
// are loaded, so each of them "survives" whatever the tests do (stryker-js issues #6144, #6209).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const tests = (process.env.GATEHOUSE_MUTATION_TESTS ?? '').split(',').filter(Boolean);
if (tests.length === 0) throw new Error('GATEHOUSE_MUTATION_TESTS is empty: run this through npm run mutation');

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: tests,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
