// Per-request series are counted locally and folded into prom-client when read: the exposition
// must be what direct prom-client calls give, and the locally kept cells stay bounded.
import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { createMetrics, RECORDER_MAX_ROUTES, RECORDER_MAX_STATUSES, requestRecorder } from '../../src/admin/metrics.ts';

const calls: Array<[string, number, number]> = [
  ['app', 200, 0.0004],
  ['api', 200, 0.02],
  ['app', 404, 0.3],
  ['', 0, 0],
  ['app', 200, 12],
  ['api', 502, 0.003],
];

describe('recordRequest', () => {
  it('exposes the same series as direct inc and observe calls', async () => {
    const recorded = createMetrics();
    const direct = createMetrics();
    for (const [route, status, s] of calls) {
      recorded.recordRequest(route, status, s);
      direct.requests.inc({ route, status: String(status) });
      direct.duration.observe({ route }, s);
    }
    expect(await recorded.registry.metrics()).toBe(await direct.registry.metrics());
    // Counted once: a second scrape adds nothing that was already added.
    recorded.recordRequest('app', 200, 0.01);
    direct.requests.inc({ route: 'app', status: '200' });
    direct.duration.observe({ route: 'app' }, 0.01);
    expect(await recorded.registry.metrics()).toBe(await direct.registry.metrics());
    expect(await recorded.registry.metrics()).toBe(await direct.registry.metrics());
  });

  it('keeps at most RECORDER_MAX_ROUTES routes and RECORDER_MAX_STATUSES statuses per route, counting the rest directly', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 'r', help: 'r', labelNames: ['route', 'status'] as const, registers: [registry] });
    const duration = new Histogram({ name: 'd', help: 'd', labelNames: ['route'] as const, registers: [registry] });
    const rec = requestRecorder(requests, duration);
    for (let i = 0; i < RECORDER_MAX_ROUTES + 10; i++) rec.record(`r${i}`, 200, 0.001);
    for (let s = 100; s < 100 + RECORDER_MAX_STATUSES + 10; s++) rec.record('r0', s, 0.001);
    expect(rec.cells()).toBe(RECORDER_MAX_ROUTES + RECORDER_MAX_STATUSES - 1);
    rec.flush();
    const values = (await requests.get()).values;
    expect(values).toHaveLength(RECORDER_MAX_ROUTES + 10 + RECORDER_MAX_STATUSES + 10);
    expect(values.every((v) => v.value === 1)).toBe(true);
    expect((await duration.get()).values.filter((v) => v.metricName === 'd_count')).toHaveLength(RECORDER_MAX_ROUTES + 10);
  });
});
