// Build the audit writer and its sinks from config. One per process: it outlives config reloads,
// so the sequence and hash chain never restart while the process runs.
import { readFileSync } from 'node:fs';
import type { AuditConfig, AuditSinkConfig } from '../config/types.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AuditSink } from './sink.ts';
import { createFileSink } from './sinks/file.ts';
import { createHttpSink } from './sinks/http.ts';
import { createRelpSink } from './sinks/relp.ts';
import { createStdoutSink } from './sinks/stdout.ts';
import { createSyslogSink } from './sinks/syslog.ts';
import { createThreadedAuditWriter } from './thread.ts';
import { createAuditWriter, type AuditMetrics, type AuditWriter } from './writer.ts';

export function createSink(c: AuditSinkConfig): AuditSink {
  switch (c.type) {
    case 'stdout':
      return createStdoutSink();
    case 'file':
      return createFileSink(c);
    case 'syslog':
      return c.transport === 'relp'
        ? createRelpSink({
            host: c.host,
            port: c.port,
            tls: c.tls,
            caFile: c.caFile,
            certFile: c.certFile,
            keyFile: c.keyFile,
            appName: c.appName,
            facility: c.facility,
            timeoutMs: c.timeoutMs,
            window: c.relpWindow,
          })
        : createSyslogSink({ ...c, transport: c.transport, connectTimeoutMs: c.timeoutMs });
    case 'http':
      return createHttpSink(c);
  }
}

export function createAudit(config: AuditConfig, log: Logger, metrics?: AuditMetrics): AuditWriter {
  const chainKey = config.chainKeyFile === undefined ? undefined : readChainKey(config.chainKeyFile);
  // Records are built, hashed and delivered off the main thread (thread.ts, docs/audit.md).
  if (config.workerThread && config.sinks.length > 0) return createThreadedAuditWriter({ audit: config, chainKey, log, metrics });
  return createAuditWriter({
    sinks: config.sinks.map(createSink),
    format: config.format,
    onSinkFailure: config.onSinkFailure,
    spoolDir: config.spoolDir,
    queueSize: config.queueSize,
    drainRate: config.spoolDrainRate,
    chainKey,
    log,
    ...(metrics ? { metrics } : {}),
  });
}

/** Shortest key accepted: HMAC-SHA256's block of entropy (a `openssl rand 32 > key` file). */
export const MIN_CHAIN_KEY_BYTES = 32;

/**
 * The chain key: the file's bytes, a trailing newline dropped (an editor adds one). Read once at
 * start: the chain of a running process never changes key. Refused when unreadable or short.
 */
export function readChainKey(path: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    throw new ConfigError([
      { path: 'audit.chain_key_file', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` },
    ]);
  }
  let end = key.length;
  while (end > 0 && (key[end - 1] === 0x0a || key[end - 1] === 0x0d)) end--;
  key = key.subarray(0, end);
  if (key.length < MIN_CHAIN_KEY_BYTES)
    throw new ConfigError([
      { path: 'audit.chain_key_file', message: `${path} holds ${key.length} bytes; at least ${MIN_CHAIN_KEY_BYTES} are needed` },
    ]);
  return key;
}
