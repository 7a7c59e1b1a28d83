// No Docker engine runs in CI, so check the Dockerfile's contract statically: the files it copies
// exist, it runs as a non-root user on Node 24 with production dependencies only, and it has a
// health check against the admin listener.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const text = readFileSync(new URL('Dockerfile', root), 'utf8');
const instructions = text.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

describe('Dockerfile', () => {
  it('uses only known instructions and builds from Node 24', () => {
    const known = new Set([
      'FROM',
      'WORKDIR',
      'COPY',
      'RUN',
      'ENV',
      'VOLUME',
      'USER',
      'EXPOSE',
      'HEALTHCHECK',
      'STOPSIGNAL',
      'ENTRYPOINT',
      'CMD',
    ]);
    for (const line of instructions) expect(known, line).toContain(line.split(/\s/)[0]);
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2); // multi-stage
    for (const f of froms) expect(f).toMatch(/^FROM node:24/);
  });

  it('copies files that exist in the repository', () => {
    for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const s of sources) expect(existsSync(new URL(s, root)), s).toBe(true);
    }
  });

  it('installs production dependencies only, runs as non-root, checks health, reads the mounted config', () => {
    expect(text).toContain('npm ci --omit=dev');
    const users = instructions.filter((l) => l.startsWith('USER '));
    expect(users.at(-1)).toMatch(/^USER (node|\d{3,})$/);
    expect(text).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(text).toContain('/etc/gatehouse/gatehouse.yaml');
    expect(text).toContain('"src/main.ts"');
  });
});
