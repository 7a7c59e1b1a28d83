// Debian's Prometheus 2.42 scraping an exporter behind Gatehouse with a personal access token in
// authorization.credentials_file, as config/examples/gatehouse/routes/prometheus-scrape.yaml and
// integrations/prometheus/scrape-through-gatehouse.yml say (hosts, ports, paths and the interval
// substituted). The token is created through the admin API as documented; the exporter (a spy
// upstream) sees the service user's identity and no token; revoking the token turns the target
// down with a 401 at Prometheus' next scrape.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';
import { startSpyUpstream } from '../support/spy-upstream.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { exampleRoutes, exampleText, startTool, waitForStatus } from '../support/tool-kit.ts';

const ADMIN = 'admin-token-for-prometheus-scrape-0123';

interface Target {
  health: string;
  lastError: string;
  labels: { job: string };
}

describe('Prometheus scrapes through Gatehouse with a personal access token', () => {
  it('the exporter sees the service user and no token; a revoked token turns the target down', { timeout: 120_000 }, async () => {
    const exporter = await startSpyUpstream({
      respond: () => ({
        status: 200,
        headers: { 'content-type': 'text/plain; version=0.0.4' },
        body: '# TYPE job_loss gauge\njob_loss 0.42\n',
      }),
    });
    const routes = exampleRoutes(
      exampleText('gatehouse/routes/prometheus-scrape.yaml', {
        'host: jobs.corp.example': 'host: 127.0.0.1',
        'http://127.0.0.1:9100': exporter.url,
      }),
    );
    const gh = await startTestGatehouse({ ...baseConfig(), admin: { listen: '127.0.0.1:0', token: ADMIN }, routes });

    // The token, created as the example says (admin API, service user, route job-exporter).
    const created = await request(`${gh.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        user: 'svc-prometheus',
        name: 'prometheus scrape',
        routes: ['job-exporter'],
        groups: ['monitoring'],
        expires_in_days: 90,
      }),
    });
    expect(created.statusCode).toBe(201);
    const { token, id } = (await created.body.json()) as { token: string; id: string };

    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prom-scrape-'));
    writeFileSync(join(dir, 'gatehouse-token'), token, { mode: 0o400 });
    const promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      exampleText('integrations/prometheus/scrape-through-gatehouse.yml', {
        'scrape_interval: 30s': 'scrape_interval: 1s\n  scrape_timeout: 1s',
        'scheme: https': 'scheme: http',
        'jobs.corp.example:443': new URL(gh.url).host,
        '/etc/prometheus/gatehouse-token': join(dir, 'gatehouse-token'),
      }),
    );
    const prom = startTool(
      [
        '/usr/bin/prometheus',
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      {},
      undefined,
      5_000,
    );
    await waitForStatus(`http://127.0.0.1:${promPort}/-/ready`, 200, 60_000, prom.output);

    const scrapes = await exporter.waitForRequests(1, 30_000);
    expect(scrapes.length, prom.output()).toBeGreaterThanOrEqual(1);
    const first = scrapes[0]!;
    expect(first.target).toBe('/metrics');
    expect(first.header('x-forwarded-user')).toBe('svc-prometheus');
    expect(first.header('x-forwarded-groups')).toBe('monitoring');
    expect(first.headerAll('authorization')).toEqual([]);
    expect(first.raw.toString('latin1').includes(token)).toBe(false);

    const target = async (): Promise<Target | undefined> => {
      const r = await request(`http://127.0.0.1:${promPort}/api/v1/targets`);
      const body = (await r.body.json()) as { data: { activeTargets: Target[] } };
      return body.data.activeTargets.find((t) => t.labels.job === 'training-jobs');
    };
    await expect.poll(async () => (await target())?.health, { timeout: 30_000 }).toBe('up');

    const revoked = await request(`${gh.adminUrl}/admin/tokens/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(revoked.statusCode).toBe(200);
    await revoked.body.dump();
    await expect.poll(async () => (await target())?.health, { timeout: 30_000 }).toBe('down');
    expect((await target())?.lastError).toContain('401');
  });
});
