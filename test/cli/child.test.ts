// The child-process helper the CLI tests stand on (issue 13, item 9): a wait ends on the event it
// waits for — the output line, or the child's exit — never on a short clock, and a failed wait
// carries the child's stdout and stderr, so a CI failure explains itself.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHILD_TEST_TIMEOUT_MS, count, listeningUrl, spawnGatehouse } from '../support/child.ts';

function badConfig(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-child-')), 'gatehouse.yaml');
  writeFileSync(file, 'server:\n  public_url: "http://127.0.0.1:4180"\nroutes:\n  - name: c\n    upstream: "nope"\n');
  return file;
}

describe('spawnGatehouse', () => {
  it('a wait for a line that never comes fails when the child exits, with its output', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const child = spawnGatehouse(['start', '--config', badConfig()]);
    const err = await child.waitFor(/gatehouse listening/, '"gatehouse listening"').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^gatehouse exited \(code 1, signal null\) before "gatehouse listening"; its output:\n/);
    expect(err?.message).toContain('routes[0].upstream: not a URL');
    expect(await child.exited()).toEqual({ code: 1, signal: null });
  });

  it('a wait that cannot be met in time fails at its bound, with the output so far', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-child-')), 'gatehouse.yaml');
    writeFileSync(
      file,
      'log_level: info\nserver:\n  listen: "127.0.0.1:0"\n  public_url: "http://127.0.0.1:4180"\nadmin:\n  listen: "127.0.0.1:0"\naudit: { sinks: [] }\nroutes:\n  - name: app\n    upstream: "http://127.0.0.1:9"\n    allow: { public: true }\n',
    );
    const child = spawnGatehouse(['start', '--config', file]);
    const out = await child.waitFor(/gatehouse listening/, '"gatehouse listening"');
    expect(listeningUrl(out)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(child.waitFor(/never printed/, 'a line', 1)).rejects.toThrow(
      /^a line: not seen within 1 ms; gatehouse output so far:\n[\s\S]*gatehouse listening/,
    );
    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(count(child.output(), /"msg":"stopped"/g)).toBe(1);
  });

  it('an exited child: its exit resolves at once, a line wait fails at once', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const child = spawnGatehouse(['check-config', '--config', badConfig()]);
    expect(await child.exited()).toEqual({ code: 1, signal: null });
    await expect(child.waitFor(/never/, 'a line')).rejects.toThrow(/before a line; its output:\n[\s\S]*not a URL/);
    expect(() => listeningUrl(child.output())).toThrow(/no "gatehouse listening" line/);
  });
});
