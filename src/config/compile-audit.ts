// audit: sinks, failure mode, spool.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigProblem } from '../errors.ts';
import type { RawAudit } from './schema.ts';
import { Secret } from './secret.ts';
import type { AuditConfig, AuditSinkConfig } from './types.ts';
import { parseDuration, parseSize } from './units.ts';

export function compileAudit(a: RawAudit, problems: ConfigProblem[], warnings: string[]): AuditConfig {
  const sinks = a.sinks.map((s, i): AuditSinkConfig => {
    switch (s.type) {
      case 'stdout':
        return { type: 'stdout' };
      case 'file': {
        const maxBytes = parseSize(s.max_size);
        if (maxBytes < 4096) problems.push({ path: `audit.sinks[${i}].max_size`, message: 'must be at least 4KB' });
        return { type: 'file', path: s.path, maxBytes, maxFiles: s.max_files, fsync: s.fsync };
      }
      case 'syslog': {
        const u = new URL(s.url);
        const scheme = u.protocol.slice(0, -1);
        const at = `audit.sinks[${i}]`;
        if (scheme === 'udp' && s.tls) problems.push({ path: `${at}.tls`, message: 'TLS needs tcp://, tls:// or relp://, not udp://' });
        if ((s.cert_file === undefined) !== (s.key_file === undefined)) problems.push({ path: `${at}.${s.cert_file === undefined ? 'cert_file' : 'key_file'}`, message: 'cert_file and key_file go together' });
        if (s.cert_file !== undefined && !(s.tls || scheme === 'tls')) problems.push({ path: `${at}.cert_file`, message: 'a client certificate needs TLS (tls:// or tls: true)' });
        if (scheme === 'udp') warnings.push(`${at}: udp:// syslog delivers at most once: records lost on the way are not known or sent again; use relp://, tcp:// or tls:// to keep every record`);
        // Keys that only mean something for one transport are refused elsewhere, not ignored.
        if (scheme !== 'relp' && s.relp_window !== undefined) problems.push({ path: `${at}.relp_window`, message: 'only for relp:// URLs' });
        for (const k of ['replay_window', 'replay_max_records'] as const) {
          if ((scheme === 'relp' || scheme === 'udp') && s[k] !== undefined) problems.push({ path: `${at}.${k}`, message: `only for tcp:// and tls:// URLs (${scheme}:// ${scheme === 'relp' ? 'is acknowledged: nothing to replay' : 'has no connection to break'})` });
        }
        return {
          type: 'syslog', transport: scheme === 'udp' ? 'udp' : scheme === 'relp' ? 'relp' : 'tcp', tls: s.tls || scheme === 'tls', host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port),
          caFile: s.ca_file, certFile: s.cert_file, keyFile: s.key_file, appName: s.app_name, facility: s.facility, timeoutMs: parseDuration(s.timeout), relpWindow: s.relp_window ?? 128,
          replayWindowMs: parseDuration(s.replay_window ?? '10s'), replayMaxRecords: s.replay_max_records ?? 10_000,
        };
      }
      case 'http': {
        for (const k of ['index', 'fields'] as const) {
          if (s.format !== 'hec' && s[k] !== undefined) problems.push({ path: `audit.sinks[${i}].${k}`, message: 'only for format: hec' });
        }
        if (s.fields && Object.keys(s.fields).length > 20) problems.push({ path: `audit.sinks[${i}].fields`, message: 'at most 20 fields' });
        return {
          type: 'http', url: s.url, format: s.format, token: s.token === undefined ? undefined : new Secret(s.token), batchSize: s.batch_size, gzip: s.gzip,
          timeoutMs: parseDuration(s.timeout), caFile: s.ca_file, index: s.index, fields: s.fields,
        };
      }
    }
  });
  const names = new Map<string, number>();
  sinks.forEach((s, i) => {
    const key = s.type === 'file' ? `file:${s.path}` : s.type === 'syslog' ? `syslog:${s.host}:${s.port}` : s.type === 'http' ? `http:${s.url}` : 'stdout';
    const j = names.get(key);
    if (j !== undefined) problems.push({ path: `audit.sinks[${i}]`, message: `same destination as audit.sinks[${j}]` });
    names.set(key, i);
  });
  if (sinks.length === 0) warnings.push('audit.sinks is empty: no audit trail is written');
  if (a.spool_dir === undefined && sinks.some((s) => s.type === 'syslog' || s.type === 'http')) {
    warnings.push('audit.spool_dir is not set: records for a sink that is down wait in the system temp directory; set a persistent directory');
  }
  if (sinks.length > 0 && a.chain_key_file === undefined) {
    warnings.push('audit.chain_key_file is not set: the hash chain is unkeyed, so whoever can write the audit trail can rewrite records and recompute every hash; set a key file');
  }
  return {
    format: a.format, sinks, onSinkFailure: a.on_sink_failure, spoolDir: a.spool_dir ?? join(tmpdir(), 'gatehouse-spool'), queueSize: a.queue_size,
    spoolDrainRate: a.spool_drain_rate ?? 20_000, chainKeyFile: a.chain_key_file,
  };
}
