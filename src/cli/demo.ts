// `npm run demo`: the whole flow on loopback with nothing else installed — the whoami upstream,
// the demo OpenID provider (users alice, bob, carol; password "demo") and Gatehouse with
// config/demo.yaml.
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import { compileConfig } from '../config/compile.ts';
import type { Config } from '../config/types.ts';
import { loadConfigFile } from '../config/load.ts';
import { startDemoIdp, type DemoIdp } from '../demo/idp.ts';
import { createWhoamiServer } from '../demo/whoami.ts';
import { createLogger } from '../log.ts';
import { listen } from '../http/listener.ts';
import { LOGOUT_PATH, oidcBackchannelPath, oidcCallbackPath, USERINFO_PATH } from '../http/endpoints.ts';
import { onShutdownSignal, startGatehouse } from './start.ts';

export const DEMO_CONFIG = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));

export async function runDemo(configPath: string = DEMO_CONFIG): Promise<void> {
  const { config, warnings } = compileConfig(loadConfigFile(configPath));
  const log = createLogger(config.logLevel);
  const whoami = await startWhoami(config.routes[0]!.upstream.origin);
  const idps = await startDemoIdps(config);
  const gh = await startGatehouse(config, { log, warnings });
  const base = config.server.publicUrl;
  process.stderr.write(`
  Gatehouse demo is running.
    open      ${base}/              sign in as alice, bob or carol (password: demo)
    JSON      ${base}/whoami.json   what the upstream received (identity headers included)
    me        ${base}${USERINFO_PATH}
    sign out  ${base}${LOGOUT_PATH}
    metrics   ${gh.adminUrl}/metrics
  Ctrl-C stops it.

`);
  onShutdownSignal(async () => {
    await gh.shutdown();
    await Promise.all([new Promise((r) => whoami.close(r)), ...idps.map((i) => i.close())]);
  }, log);
}

async function startWhoami(origin: string): Promise<Server> {
  const u = new URL(origin);
  const whoami = createWhoamiServer();
  await listen(whoami, { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) });
  return whoami;
}

/** One demo IdP per loopback OIDC provider in the config, registered for this Gatehouse. */
async function startDemoIdps(config: Config): Promise<DemoIdp[]> {
  const base = config.server.publicUrl;
  const started: DemoIdp[] = [];
  for (const p of config.identityProviders) {
    if (p.type !== 'oidc') continue;
    const u = new URL(p.issuer);
    if (!p.allowInsecureHttp) continue; // a real IdP: nothing to start
    started.push(
      await startDemoIdp({
        host: u.hostname,
        port: Number(u.port),
        clients: [
          {
            client_id: p.clientId,
            client_secret: p.clientSecret?.value() ?? '',
            redirect_uris: [`${base}${oidcCallbackPath(p.id)}`],
            post_logout_redirect_uris: [`${base}${LOGOUT_PATH}`],
            backchannel_logout_uri: `${base}${oidcBackchannelPath(p.id)}`,
          },
        ],
      }),
    );
  }
  return started;
}
