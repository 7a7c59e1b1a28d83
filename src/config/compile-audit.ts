// audit: sinks, failure mode, spool.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Findings, type Checked } from './findings.ts';
import type { RawAudit } from './schema.ts';
import { Secret } from './secret.ts';
import type { AuditConfig, AuditSinkConfig } from './types.ts';
import { parseDuration, parseSize } from './units.ts';

type RawSink = RawAudit['sinks'][number];
type RawSinkOf<T extends RawSink['type']> = Extract<RawSink, { type: T }>;

export function compileAudit(audit: RawAudit): Checked<AuditConfig> {
  const f = new Findings();
  const sinks = audit.sinks.map((sink, i) => compileSink(sink, `audit.sinks[${i}]`, f));
  checkDistinctDestinations(sinks, f);
  warnAboutDurability(audit, sinks, f);
  return f.result({
    format: audit.format,
    sinks,
    onSinkFailure: audit.on_sink_failure,
    spoolDir: audit.spool_dir ?? join(tmpdir(), 'gatehouse-spool'),
    queueSize: audit.queue_size,
    spoolDrainRate: audit.spool_drain_rate ?? 20_000,
    chainKeyFile: audit.chain_key_file,
    workerThread: audit.worker_thread,
  });
}

/** One sink; `at` is its config path (`audit.sinks[i]`) for the problems it reports. */
function compileSink(sink: RawSink, at: string, f: Findings): AuditSinkConfig {
  switch (sink.type) {
    case 'stdout':
      return { type: 'stdout' };
    case 'file':
      return compileFileSink(sink, at, f);
    case 'syslog':
      return compileSyslogSink(sink, at, f);
    case 'http':
      return compileHttpSink(sink, at, f);
  }
}

function compileFileSink(sink: RawSinkOf<'file'>, at: string, f: Findings): AuditSinkConfig {
  const maxBytes = parseSize(sink.max_size);
  if (maxBytes < 4096) f.problem(`${at}.max_size`, 'must be at least 4KB');
  return { type: 'file', path: sink.path, maxBytes, maxFiles: sink.max_files, fsync: sink.fsync };
}

function compileSyslogSink(sink: RawSinkOf<'syslog'>, at: string, f: Findings): AuditSinkConfig {
  const u = new URL(sink.url);
  const scheme = u.protocol.slice(0, -1);
  checkSyslogSink(sink, scheme, at, f);
  return {
    type: 'syslog',
    transport: scheme === 'udp' ? 'udp' : scheme === 'relp' ? 'relp' : 'tcp',
    tls: sink.tls || scheme === 'tls',
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(u.port),
    caFile: sink.ca_file,
    certFile: sink.cert_file,
    keyFile: sink.key_file,
    appName: sink.app_name,
    facility: sink.facility,
    timeoutMs: parseDuration(sink.timeout),
    relpWindow: sink.relp_window ?? 128,
    replayWindowMs: parseDuration(sink.replay_window ?? '10s'),
    replayMaxRecords: sink.replay_max_records ?? 10_000,
  };
}

/** The syslog keys that only make sense together, or only for some URL schemes. */
function checkSyslogSink(sink: RawSinkOf<'syslog'>, scheme: string, at: string, f: Findings): void {
  if (scheme === 'udp' && sink.tls) f.problem(`${at}.tls`, 'TLS needs tcp://, tls:// or relp://, not udp://');
  if ((sink.cert_file === undefined) !== (sink.key_file === undefined))
    f.problem(`${at}.${sink.cert_file === undefined ? 'cert_file' : 'key_file'}`, 'cert_file and key_file go together');
  if (sink.cert_file !== undefined && !(sink.tls || scheme === 'tls'))
    f.problem(`${at}.cert_file`, 'a client certificate needs TLS (tls:// or tls: true)');
  if (scheme === 'udp')
    f.warn(
      `${at}: udp:// syslog delivers at most once: records lost on the way are not known or sent again; use relp://, tcp:// or tls:// to keep every record`,
    );
  // Keys that only mean something for one transport are refused elsewhere, not ignored.
  if (scheme !== 'relp' && sink.relp_window !== undefined) f.problem(`${at}.relp_window`, 'only for relp:// URLs');
  for (const k of ['replay_window', 'replay_max_records'] as const) {
    if ((scheme === 'relp' || scheme === 'udp') && sink[k] !== undefined)
      f.problem(
        `${at}.${k}`,
        `only for tcp:// and tls:// URLs (${scheme}:// ${scheme === 'relp' ? 'is acknowledged: nothing to replay' : 'has no connection to break'})`,
      );
  }
}

function compileHttpSink(sink: RawSinkOf<'http'>, at: string, f: Findings): AuditSinkConfig {
  for (const k of ['index', 'fields'] as const) {
    if (sink.format !== 'hec' && sink[k] !== undefined) f.problem(`${at}.${k}`, 'only for format: hec');
  }
  if (sink.format !== 'hec' && sink.ack) f.problem(`${at}.ack`, 'only for format: hec');
  if (sink.fields && Object.keys(sink.fields).length > 20) f.problem(`${at}.fields`, 'at most 20 fields');
  return {
    type: 'http',
    url: sink.url,
    format: sink.format,
    token: sink.token === undefined ? undefined : new Secret(sink.token),
    batchSize: sink.batch_size,
    gzip: sink.gzip,
    timeoutMs: parseDuration(sink.timeout),
    caFile: sink.ca_file,
    index: sink.index,
    fields: sink.fields,
    ack: sink.ack,
  };
}

/** Two sinks writing to the same place would interleave (file) or double every record (network). */
function checkDistinctDestinations(sinks: readonly AuditSinkConfig[], f: Findings): void {
  const names = new Map<string, number>();
  sinks.forEach((sink, i) => {
    const key =
      sink.type === 'file'
        ? `file:${sink.path}`
        : sink.type === 'syslog'
          ? `syslog:${sink.host}:${sink.port}`
          : sink.type === 'http'
            ? `http:${sink.url}`
            : 'stdout';
    const j = names.get(key);
    if (j !== undefined) f.problem(`audit.sinks[${i}]`, `same destination as audit.sinks[${j}]`);
    names.set(key, i);
  });
}

/** Warnings for configs that run, but keep a weaker audit trail than the operator may think. */
function warnAboutDurability(audit: RawAudit, sinks: readonly AuditSinkConfig[], f: Findings): void {
  if (sinks.length === 0) f.warn('audit.sinks is empty: no audit trail is written');
  if (audit.spool_dir === undefined && sinks.some((sink) => sink.type === 'syslog' || sink.type === 'http')) {
    f.warn('audit.spool_dir is not set: records for a sink that is down wait in the system temp directory; set a persistent directory');
  }
  if (sinks.length > 0 && audit.chain_key_file === undefined) {
    f.warn(
      'audit.chain_key_file is not set: the hash chain is unkeyed, so whoever can write the audit trail can rewrite records and recompute every hash; set a key file',
    );
  }
}
