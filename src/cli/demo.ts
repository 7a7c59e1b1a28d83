// `npm run demo`: the whole flow on loopback with nothing else installed — the whoami upstream and
// Gatehouse with config/demo.yaml. Later issues add the demo IdP to `startDemoServices`.
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import { compileConfig } from '../config/compile.ts';
import { loadConfigFile } from '../config/load.ts';
import { createWhoamiServer } from '../demo/whoami.ts';
import { createLogger } from '../log.ts';
import { listen } from '../server/listener.ts';
import { onShutdownSignal, startGatehouse } from './start.ts';

export const DEMO_CONFIG = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));

export async function runDemo(configPath: string = DEMO_CONFIG): Promise<void> {
  const { config, warnings } = compileConfig(loadConfigFile(configPath));
  const log = createLogger(config.logLevel);
  const services = await startDemoServices(config.routes[0]!.upstream.origin);
  const gh = await startGatehouse(config, { log, warnings });
  const lines = [
    '',
    '  Gatehouse demo is running.',
    `    open      ${config.server.publicUrl}/            (whoami page, through the proxy)`,
    `    JSON      ${config.server.publicUrl}/whoami.json`,
    `    metrics   ${gh.adminUrl}/metrics`,
    '  Ctrl-C stops it.',
    '',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  onShutdownSignal(async () => {
    await gh.shutdown();
    await Promise.all(services.map((s) => new Promise((r) => s.close(r))));
  }, log);
}

async function startDemoServices(whoamiOrigin: string): Promise<Server[]> {
  const u = new URL(whoamiOrigin);
  const whoami = createWhoamiServer();
  await listen(whoami, { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) });
  return [whoami];
}
