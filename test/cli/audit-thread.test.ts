// The audit worker thread (audit.worker_thread: true) in a real `gatehouse start`: the
// default stdout sink's records reach the process's stdout, the last one the final record written
// on SIGTERM, and the process exits; with server.workers each worker process has its own audit
// thread, chain and file.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyLines } from '../../src/audit/chain.ts';
import { runAuditVerify } from '../../src/cli/audit-verify.ts';
import { parseRecords, readNdjson } from '../support/audit.ts';
import { CHILD_TEST_TIMEOUT_MS, count, listeningUrl, spawnGatehouse } from '../support/child.ts';
import { getJson } from '../support/http.ts';
import { freePort } from '../support/ports.ts';
import { redisUrl, uniquePrefix } from '../support/redis.ts';
import { startUpstream } from '../support/upstream.ts';

function writeConfig(dir: string, text: string): string {
  writeFileSync(join(dir, 'gatehouse.yaml'), text);
  return join(dir, 'gatehouse.yaml');
}

describe('audit worker thread in a gatehouse process', () => {
  it('default stdout sink: every request record, then the final record, on stdout; SIGTERM exits 0', {
    timeout: CHILD_TEST_TIMEOUT_MS,
  }, async () => {
    const up = await startUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audthr-'));
    const file = writeConfig(
      dir,
      `log_level: info
server: { listen: "127.0.0.1:0", public_url: "http://127.0.0.1:4180" }
admin: { listen: "127.0.0.1:0" }
audit: { spool_dir: "${join(dir, 'spool')}", worker_thread: true }
routes: [ { name: app, upstream: "${up.url}", allow: { public: true } } ]
`,
    );
    const child = spawnGatehouse(['start', '--config', file]);
    let stdout = '';
    child.proc.stdout!.on('data', (d: Buffer) => (stdout += String(d)));
    const url = listeningUrl(await child.waitFor(/gatehouse listening/, '"gatehouse listening"'));
    for (let i = 0; i < 30; i++) expect((await getJson(`${url}/x${i}`)).status).toBe(200);
    expect((await child.stop('SIGTERM')).code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const records = parseRecords(lines);
    expect(records.filter((r) => r.event?.action === 'http_request').map((r) => r.url.path)).toEqual(
      Array.from({ length: 30 }, (_, i) => `/x${i}`),
    );
    expect(records.at(-1)!.event.action).toBe('audit_stopped');
    const v = verifyLines(lines);
    expect(v.problems).toEqual([]);
    expect(v.warnings).toEqual([]);
  });

  it('server.workers: 2 — each worker process writes its own verified chain through its own audit thread', {
    timeout: CHILD_TEST_TIMEOUT_MS,
  }, async () => {
    const up = await startUpstream();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audthr-'));
    const auditFile = join(dir, 'audit.ndjson');
    const file = writeConfig(
      dir,
      `log_level: info
server: { listen: "127.0.0.1:${port}", public_url: "http://127.0.0.1:${port}", workers: 2 }
admin: { listen: "127.0.0.1:0" }
session: { store: redis, redis: { url: "${redisUrl()}", key_prefix: "${uniquePrefix()}" }, secret: "workers-test-secret-0123456789abcdefghij", cookie: { secure: false } }
audit: { sinks: [ { type: file, path: "${auditFile}" } ], spool_dir: "${join(dir, 'spool')}", worker_thread: true }
routes: [ { name: app, upstream: "${up.url}", allow: { public: true } } ]
`,
    );
    const child = spawnGatehouse(['start', '--config', file]);
    await child.waitFor((out) => count(out, /gatehouse listening/g) >= 2, '2 × "gatehouse listening"');
    for (let i = 0; i < 40; i++) expect((await getJson(`http://127.0.0.1:${port}/y${i}`)).status).toBe(200);
    expect((await child.stop('SIGTERM')).code).toBe(0);
    const files = readdirSync(dir).filter((f) => /^audit\..*ndjson$/.test(f));
    expect(files).toHaveLength(2);
    let requests = 0;
    for (const f of files) {
      const records = parseRecords(readNdjson(join(dir, f)));
      requests += records.filter((r) => r.event?.action === 'http_request').length;
      expect(records.at(-1)!.event.action).toBe('audit_stopped');
      expect(await runAuditVerify([join(dir, f)], () => {})).toBe(0);
    }
    expect(requests).toBe(40);
  });
});
