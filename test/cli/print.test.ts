// CLI output into a pipe whose reader stopped early (`gatehouse check-config | head -1`): the
// command exits 0 without an EPIPE stack trace.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const print = fileURLToPath(new URL('../../src/cli/print.ts', import.meta.url));

describe('printLine', () => {
  it('exits quietly when the reader closes the pipe', () => {
    const script = `import { printLine } from ${JSON.stringify(print)}; for (let i = 0; i < 200000; i++) printLine('line ' + i);`;
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" --input-type=module -e "$SCRIPT" 2>"$ERR_FILE" | head -1; echo "status=\${PIPESTATUS[0]}"; cat "$ERR_FILE"`,
      ],
      {
        env: { ...process.env, SCRIPT: script, ERR_FILE: `/tmp/gatehouse-print-${process.pid}.err` },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(r.stdout).toBe('line 0\nstatus=0\n');
  });
});
