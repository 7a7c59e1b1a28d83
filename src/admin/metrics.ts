// Prometheus metrics: a private registry per Gatehouse instance (so tests and several instances in
// one process never collide), with the few series operators alert on.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

export interface AuditMetrics {
  readonly written: Counter<'sink'>;
  readonly queued: Gauge<'sink'>;
  readonly spooled: Counter<'sink'>;
  readonly retried: Counter<'sink'>;
  readonly failed: Counter<'sink'>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly audit: AuditMetrics;
  readonly requests: Counter<'route' | 'status'>;
  readonly duration: RouteHistogram;
  /** One answered request: `requests` and `duration` at a map lookup's cost (requestRecorder). */
  readonly recordRequest: (route: string, status: number, seconds: number) => void;
  readonly websocketsOpen: Gauge<'route'>;
  readonly upstreamErrors: Counter<'route' | 'code'>;
  /** Requests refused (503) because the audit trail could not take a record (block mode). */
  readonly auditRefused: Counter;
  /** 1 while the session store answers a PING (read when scraped, cached about a second). */
  readonly sessionStoreUp: Gauge;
  /** 1 per identity provider that Gatehouse can reach, 0 for one it cannot (read when scraped). */
  readonly idpUp: Gauge<'idp'>;
}

/** Where the health gauges read their values at scrape time (the running instance). */
export interface HealthSource {
  sessionStoreUp(): Promise<boolean>;
  identityProviders(): ReadonlyArray<{ readonly id: string; readonly up: boolean }>;
}

export function createMetrics(options: { processMetrics?: boolean; health?: HealthSource } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  // Built in this order so the exposition lists the series as it always has.
  const traffic = trafficMetrics(registry);
  const audit = auditMetrics(registry);
  const auditRefused = new Counter({
    name: 'gatehouse_audit_refused_requests_total',
    help: 'Requests refused because the audit trail could not record them (on_sink_failure: block).',
    registers: [registry],
  });
  const health = healthGauges(registry, options.health);
  const upstreamErrors = new Counter({
    name: 'gatehouse_upstream_errors_total',
    help: 'Upstream failures (unreachable, reset, timeout), by route and error code.',
    labelNames: ['route', 'code'],
    registers: [registry],
  });
  return { registry, ...traffic, audit, auditRefused, ...health, upstreamErrors };
}

/** Requests answered, how long they took, and WebSocket tunnels open, by route. */
function trafficMetrics(registry: Registry): Pick<Metrics, 'requests' | 'duration' | 'websocketsOpen' | 'recordRequest'> {
  let flush = () => {};
  const requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests answered, by route and status.',
    labelNames: ['route', 'status'],
    registers: [registry],
    collect: () => flush(),
  });
  const duration = new RouteHistogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Time from request arrival to response end, by route.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const recorder = requestRecorder(requests, duration);
  flush = recorder.flush;
  return {
    requests,
    duration,
    recordRequest: recorder.record,
    websocketsOpen: new Gauge({
      name: 'gatehouse_websockets_open',
      help: 'WebSocket connections currently proxied, by route.',
      labelNames: ['route'],
      registers: [registry],
    }),
  };
}

/** Routes, and statuses per route, whose counts are kept ready; beyond them a request pays prom-client's own inc. */
export const RECORDER_MAX_ROUTES = 1024;
export const RECORDER_MAX_STATUSES = 64;

interface StatusCell {
  readonly labels: { route: string; status: string };
  n: number;
}

/**
 * prom-client hashes the label object on every inc and observe (a labelled child too), about half
 * a microsecond a request. Requests are counted here per route and status and added to the counter
 * when it is read (its collect, before every scrape); durations go to RouteHistogram. The
 * exposition is what direct calls give, series in the order they first occurred. Routes come from
 * config and statuses are few; both are bounded anyway (a reload may rename every route).
 */
export function requestRecorder(
  requests: Counter<'route' | 'status'>,
  duration: RouteHistogram,
): { record: (route: string, status: number, seconds: number) => void; flush: () => void; readonly cells: () => number } {
  const routes = new Map<string, Map<number, StatusCell>>();
  const inOrder: StatusCell[] = [];
  const record = (route: string, status: number, seconds: number) => {
    duration.observe(route, seconds);
    let statuses = routes.get(route);
    if (statuses === undefined) {
      if (routes.size >= RECORDER_MAX_ROUTES) {
        requests.inc({ route, status: String(status) });
        return;
      }
      statuses = new Map();
      routes.set(route, statuses);
    }
    const cell = statuses.get(status);
    if (cell !== undefined) cell.n++;
    else if (statuses.size < RECORDER_MAX_STATUSES) {
      const fresh = { labels: { route, status: String(status) }, n: 1 };
      statuses.set(status, fresh);
      inOrder.push(fresh);
    } else requests.inc({ route, status: String(status) });
  };
  const flush = () => {
    for (const cell of inOrder)
      if (cell.n > 0) {
        requests.inc(cell.labels, cell.n);
        cell.n = 0;
      }
  };
  return { record, flush, cells: () => inOrder.length };
}

/** A metric as prom-client's registry reads it (Metric.get()). */
interface Exposed {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: Array<{
    readonly labels: Record<string, string | number>;
    readonly value: number;
    readonly metricName: string;
    readonly exemplar: null | undefined;
  }>;
}

interface RouteSeries {
  /** Observations per bucket (not cumulative); above the last bound only in `count`. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram by route that prom-client's registry exposes exactly as it exposes its own Histogram
 * (test/admin/metrics.test.ts compares the two), observed at the cost of a map lookup and a bucket
 * search: prom-client's observe builds and hashes a label object and finds the bucket by string
 * key on every call (0.2 µs). As there, a route's series lives as long as the registry.
 */
export class RouteHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, RouteSeries>();

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: readonly Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    for (const r of config.registers) r.registerMetric(this as unknown as Metric);
  }

  observe(route: string, seconds: number): void {
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
    let s = this.#series.get(route);
    if (s === undefined) this.#series.set(route, (s = { counts: this.#bounds.map(() => 0), sum: 0, count: 0 }));
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    if (i < bounds.length) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** What prom-client's Histogram.get() gives for the same observations. */
  async get(): Promise<Exposed> {
    const bucket = `${this.name}_bucket`;
    const values: Exposed['values'] = [];
    for (const [route, s] of this.#series) {
      let acc = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.#bounds[i]!, route }, value: acc, metricName: bucket, exemplar: null });
      }
      values.push({ labels: { le: '+Inf', route }, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: { route }, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: { route }, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset(): void {
    this.#series.clear();
  }
}

/** Delivery of audit records, by sink. */
function auditMetrics(registry: Registry): AuditMetrics {
  const bySink = (name: string, help: string) => ({ name, help, labelNames: ['sink'] as const, registers: [registry] });
  return {
    written: new Counter(bySink('gatehouse_audit_records_written_total', 'Audit records delivered, by sink.')),
    queued: new Gauge(bySink('gatehouse_audit_records_queued', 'Audit records waiting (memory and disk spool), by sink.')),
    spooled: new Counter(bySink('gatehouse_audit_spool_writes_total', 'Writes of audit records to the disk spool, by sink.')),
    retried: new Counter(bySink('gatehouse_audit_retries_total', 'Delivery retries after a failure, by sink.')),
    failed: new Counter(bySink('gatehouse_audit_failures_total', 'Failed deliveries, by sink.')),
  };
}

/** Gauges read from the running instance when scraped; without `health` they stay empty. */
function healthGauges(registry: Registry, health: HealthSource | undefined): Pick<Metrics, 'sessionStoreUp' | 'idpUp'> {
  return {
    sessionStoreUp: new Gauge({
      name: 'gatehouse_session_store_up',
      help: 'Whether the session store answered a PING within its command timeout (1) or not (0).',
      registers: [registry],
      async collect() {
        if (health) this.set((await health.sessionStoreUp()) ? 1 : 0);
      },
    }),
    idpUp: new Gauge({
      name: 'gatehouse_idp_up',
      help: 'Whether Gatehouse can reach each identity provider (1) or not (0); signed-in users are unaffected either way.',
      labelNames: ['idp'],
      registers: [registry],
      collect() {
        if (!health) return;
        // Providers removed by a reload disappear from the output.
        this.reset();
        for (const p of health.identityProviders()) this.set({ idp: p.id }, p.up ? 1 : 0);
      },
    }),
  };
}
