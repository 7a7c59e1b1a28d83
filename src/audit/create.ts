// Build the audit writer and its sinks from config. One per process: it outlives config reloads,
// so the sequence and hash chain never restart while the process runs.
import type { AuditConfig, AuditSinkConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { AuditSink } from './sink.ts';
import { createFileSink } from './sinks/file.ts';
import { createHttpSink } from './sinks/http.ts';
import { createRelpSink } from './sinks/relp.ts';
import { createStdoutSink } from './sinks/stdout.ts';
import { createSyslogSink } from './sinks/syslog.ts';
import { createAuditWriter, type AuditMetrics, type AuditWriter } from './writer.ts';

export function createSink(c: AuditSinkConfig): AuditSink {
  switch (c.type) {
    case 'stdout':
      return createStdoutSink();
    case 'file':
      return createFileSink(c);
    case 'syslog':
      return c.transport === 'relp'
        ? createRelpSink({ host: c.host, port: c.port, tls: c.tls, caFile: c.caFile, appName: c.appName, facility: c.facility, timeoutMs: c.timeoutMs, window: c.relpWindow })
        : createSyslogSink({ ...c, transport: c.transport, connectTimeoutMs: c.timeoutMs });
    case 'http':
      return createHttpSink(c);
  }
}

export function createAudit(config: AuditConfig, log: Logger, metrics?: AuditMetrics): AuditWriter {
  return createAuditWriter({
    sinks: config.sinks.map(createSink),
    format: config.format,
    onSinkFailure: config.onSinkFailure,
    spoolDir: config.spoolDir,
    queueSize: config.queueSize,
    drainRate: config.spoolDrainRate,
    log,
    ...(metrics ? { metrics } : {}),
  });
}
