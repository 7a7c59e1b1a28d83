// Prometheus metrics: a private registry per Gatehouse instance (so tests and several instances in
// one process never collide), with the few series operators alert on.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  readonly duration: Histogram<'route'>;
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
  const health = options.health;
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  return {
    registry,
    requests: new Counter({
      name: 'gatehouse_requests_total',
      help: 'Requests answered, by route and status.',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'gatehouse_request_duration_seconds',
      help: 'Time from request arrival to response end, by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    websocketsOpen: new Gauge({
      name: 'gatehouse_websockets_open',
      help: 'WebSocket connections currently proxied, by route.',
      labelNames: ['route'],
      registers: [registry],
    }),
    audit: {
      written: new Counter({
        name: 'gatehouse_audit_records_written_total',
        help: 'Audit records delivered, by sink.',
        labelNames: ['sink'],
        registers: [registry],
      }),
      queued: new Gauge({
        name: 'gatehouse_audit_records_queued',
        help: 'Audit records waiting (memory and disk spool), by sink.',
        labelNames: ['sink'],
        registers: [registry],
      }),
      spooled: new Counter({
        name: 'gatehouse_audit_spool_writes_total',
        help: 'Writes of audit records to the disk spool, by sink.',
        labelNames: ['sink'],
        registers: [registry],
      }),
      retried: new Counter({
        name: 'gatehouse_audit_retries_total',
        help: 'Delivery retries after a failure, by sink.',
        labelNames: ['sink'],
        registers: [registry],
      }),
      failed: new Counter({
        name: 'gatehouse_audit_failures_total',
        help: 'Failed deliveries, by sink.',
        labelNames: ['sink'],
        registers: [registry],
      }),
    },
    auditRefused: new Counter({
      name: 'gatehouse_audit_refused_requests_total',
      help: 'Requests refused because the audit trail could not record them (on_sink_failure: block).',
      registers: [registry],
    }),
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
    upstreamErrors: new Counter({
      name: 'gatehouse_upstream_errors_total',
      help: 'Upstream failures (unreachable, reset, timeout), by route and error code.',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
  };
}
