// Start a real Gatehouse in-process on 127.0.0.1 (ports chosen by the OS) from baseConfig() plus a
// delta, and register its shutdown with the current test.
import { onTestFinished } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { startGatehouse, type RunningGatehouse } from '../../src/cli/start.ts';

export type RawConfigInput = Record<string, unknown>;

/** A minimal valid config: loopback dev mode, OS-chosen ports, one public route to `upstream`. */
export function baseConfig(upstream = 'http://127.0.0.1:9'): RawConfigInput {
  return {
    log_level: 'silent',
    server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', shutdown_timeout: '2s' },
    admin: { listen: '127.0.0.1:0' },
    routes: [{ name: 'app', path: '/', upstream, allow: { public: true } }],
  };
}

export interface StartedGatehouse extends RunningGatehouse {}

/** Compile `raw`, start Gatehouse, and shut it down when the test finishes. */
// Tests do not want audit lines on vitest's stdout; audit tests configure their own sinks.
const withTestDefaults = (raw: RawConfigInput) => (raw.audit === undefined ? { ...raw, audit: { sinks: [] } } : raw);

export async function startTestGatehouse(
  raw: RawConfigInput,
  options: { log?: Logger; keepRunning?: boolean; reloadFrom?: () => RawConfigInput } = {},
): Promise<StartedGatehouse> {
  const { config } = compileConfig(withTestDefaults(raw));
  const reloadFrom = options.reloadFrom;
  const gh = await startGatehouse(config, {
    log: options.log ?? silentLogger,
    processMetrics: false,
    ...(reloadFrom ? { loadConfig: () => compileConfig(withTestDefaults(reloadFrom())) } : {}),
  });
  if (!options.keepRunning) onTestFinished(() => gh.shutdown());
  return gh;
}
