// The audit keys added for issue 12: relp:// syslog URLs, relp_window, the TCP replay window and
// the spool drain rate — defaults, and keys refused where they mean nothing.
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { ConfigError } from '../../src/errors.ts';
import { baseConfig } from '../support/start-gatehouse.ts';

const withAudit = (audit: Record<string, unknown>) => ({ ...baseConfig(), audit: { spool_dir: '/tmp/gatehouse-test-spool', ...audit } });

function problems(audit: Record<string, unknown>): { path: string; message: string }[] {
  try {
    compileConfig(withAudit(audit));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  return [];
}

describe('audit config: syslog transports and the spool', () => {
  it('relp:// compiles to the RELP transport with a 128-record window and a 10 s timeout', () => {
    const { config } = compileConfig(withAudit({ sinks: [{ type: 'syslog', url: 'relp://siem.corp.example:2514' }] }));
    expect(config.audit.sinks[0]).toMatchObject({
      type: 'syslog',
      transport: 'relp',
      tls: false,
      host: 'siem.corp.example',
      port: 2514,
      relpWindow: 128,
      timeoutMs: 10_000,
    });
    const tls = compileConfig(
      withAudit({ sinks: [{ type: 'syslog', url: 'relp://siem:2514', tls: true, relp_window: 32, timeout: '3s' }] }),
    );
    expect(tls.config.audit.sinks[0]).toMatchObject({ transport: 'relp', tls: true, relpWindow: 32, timeoutMs: 3000 });
  });

  it('tcp:// and tls:// replay the last 10 s (at most 10,000 records) by default; both can be set, 0s turns it off', () => {
    const { config } = compileConfig(
      withAudit({
        sinks: [
          { type: 'syslog', url: 'tcp://siem:514' },
          { type: 'syslog', url: 'tls://siem:6514', replay_window: '0s', replay_max_records: 50 },
        ],
      }),
    );
    expect(config.audit.sinks[0]).toMatchObject({ transport: 'tcp', tls: false, replayWindowMs: 10_000, replayMaxRecords: 10_000 });
    expect(config.audit.sinks[1]).toMatchObject({ transport: 'tcp', tls: true, replayWindowMs: 0, replayMaxRecords: 50 });
    expect(config.audit.spoolDrainRate).toBe(20_000);
    expect(compileConfig(withAudit({ spool_drain_rate: 5000 })).config.audit.spoolDrainRate).toBe(5000);
  });

  it('refuses keys that mean nothing for the transport, naming each', () => {
    expect(problems({ sinks: [{ type: 'syslog', url: 'tcp://siem:514', relp_window: 10 }] })).toEqual([
      { path: 'audit.sinks[0].relp_window', message: 'only for relp:// URLs' },
    ]);
    expect(
      problems({ sinks: [{ type: 'syslog', url: 'relp://siem:514', replay_window: '5s', replay_max_records: 5 }] }).map((p) => p.path),
    ).toEqual(['audit.sinks[0].replay_window', 'audit.sinks[0].replay_max_records']);
    expect(problems({ sinks: [{ type: 'syslog', url: 'udp://siem:514', replay_window: '5s' }] })[0]!.message).toMatch(
      /only for tcp:\/\/ and tls:\/\/ URLs \(udp:\/\/ has no connection to break\)/,
    );
    expect(problems({ sinks: [{ type: 'syslog', url: 'http://siem:514' }] })[0]!.message).toMatch(/relp:\/\/host:port/);
    expect(problems({ spool_drain_rate: 10 })[0]!.path).toBe('audit.spool_drain_rate');
  });

  it('audit problems stop the config like any other (they used to be found after the check and dropped)', () => {
    expect(problems({ sinks: [{ type: 'syslog', url: 'udp://siem:514', tls: true }] })).toEqual([
      { path: 'audit.sinks[0].tls', message: 'TLS needs tcp://, tls:// or relp://, not udp://' },
    ]);
    expect(
      problems({
        sinks: [
          { type: 'syslog', url: 'relp://siem:514' },
          { type: 'syslog', url: 'tcp://siem:514' },
        ],
      }),
    ).toEqual([{ path: 'audit.sinks[1]', message: 'same destination as audit.sinks[0]' }]);
  });
});
