// check-config shows the SCIM settings (issue 19): where the IdP sends to, the token redacted, the
// group mode, and how SCIM users map onto Gatehouse's user beside what sign-ins name users by.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheckConfig } from '../../src/cli/check-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-check-config-scim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'q8VtR2mXk9LpZ4wN7yB3cJ6hF1sD5gA0eU';

function run(extra: readonly string[]) {
  const p = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    p,
    [
      'server: { public_url: "https://ml.corp.example" }',
      'identity_providers:',
      '  - { id: corp, type: oidc, issuer: "https://idp.corp.example", client_id: gh, client_secret: "s3cr3t-from-the-idp-9f8e7d", claims: { user: preferred_username } }',
      'routes: [{ name: app, upstream: "http://127.0.0.1:5000", allow: { authenticated: true } }]',
      ...extra,
    ].join('\n'),
  );
  const lines: string[] = [];
  const code = runCheckConfig(p, (l) => lines.push(l));
  return { code, text: lines.join('\n') };
}

describe('check-config and scim', () => {
  it('prints the SCIM line with the URL, the token redacted, the group mode and both user mappings', () => {
    const { code, text } = run(['scim:', `  token: "${TOKEN}"`, '  groups: merge', '  user_key: userName']);
    expect(code).toBe(0);
    const line = text.split('\n').find((l) => l.trimStart().startsWith('scim:'))!;
    expect(line).toContain('https://ml.corp.example/.gatehouse/scim/v2/');
    expect(line).toContain('token [redacted]');
    expect(line).toContain('groups merge');
    expect(line).toContain('user_key userName (sign-ins name users by preferred_username)');
    expect(text).not.toContain(TOKEN);
  });

  it('prints no SCIM line when SCIM is off, and refuses a short or placeholder token naming the key', () => {
    expect(run([]).text).not.toMatch(/^\s*scim:/m);
    const short = run(['scim:', '  token: "short"']);
    expect(short.code).toBe(1);
    expect(short.text).toContain('scim.token');
    const placeholder = run(['scim:', '  token: "changeme-changeme-changeme-changeme-1"']);
    expect(placeholder.code).toBe(1);
    expect(placeholder.text).toContain('scim.token');
  });
});
