// Per-request series are kept by Gatehouse and read by prom-client's registry: requests counted
// per route and status and added to the counter when scraped, durations in RouteHistogram. The
// exposition must be what prom-client's own Counter and Histogram give for the same requests, and
// the locally kept counts stay bounded.
import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { createMetrics, RECORDER_MAX_ROUTES, RECORDER_MAX_STATUSES, RouteHistogram, requestRecorder } from '../../src/admin/metrics.ts';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The two series as prom-client itself keeps them (same names, help and buckets as metrics.ts). */
function promClientSeries() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests answered, by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Time from request arrival to response end, by route.',
    labelNames: ['route'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  return { registry, requests, duration };
}

// Bounds exactly, between them, 0, above the last, and sums that are not exact in binary.
const calls: Array<[string, number, number]> = [
  ['app', 200, 0.0004],
  ['api', 200, 0.02],
  ['app', 404, 0.3],
  ['', 0, 0],
  ['app', 200, 12],
  ['api', 502, 0.003],
  ['app', 200, 0.001],
  ['api', 200, 10],
  ['app', 304, 0.1 + 0.2],
];

describe('recordRequest', () => {
  it('exposes the same text and JSON as prom-client for the same requests, however often scraped', async () => {
    const recorded = createMetrics();
    const direct = promClientSeries();
    const same = async () => {
      for (const name of ['gatehouse_requests_total', 'gatehouse_request_duration_seconds'])
        expect(await recorded.registry.getSingleMetricAsString(name)).toBe(await direct.registry.getSingleMetricAsString(name));
      expect(await recorded.duration.get()).toEqual(await direct.duration.get());
      expect(await recorded.requests.get()).toEqual(await direct.requests.get());
    };
    await same();
    for (const [route, status, s] of calls) {
      recorded.recordRequest(route, status, s);
      direct.requests.inc({ route, status: String(status) });
      direct.duration.observe({ route }, s);
    }
    await same();
    await same();
    recorded.recordRequest('app', 200, 0.01);
    direct.requests.inc({ route: 'app', status: '200' });
    direct.duration.observe({ route: 'app' }, 0.01);
    await same();
    expect(await recorded.registry.metrics()).toContain('gatehouse_request_duration_seconds_bucket{le="+Inf",route="app"} 6');
  });

  it('keeps at most RECORDER_MAX_ROUTES routes and RECORDER_MAX_STATUSES statuses per route, counting the rest directly', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 'r', help: 'r', labelNames: ['route', 'status'] as const, registers: [registry] });
    const duration = new RouteHistogram({ name: 'd', help: 'd', buckets: BUCKETS, registers: [registry] });
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
