// `gatehouse start`: load and compile the config, build the runtime, open the public and admin
// listeners, and drain on SIGTERM/SIGINT. startGatehouse() is also what the demo and tests use.
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createAdminHandler } from '../admin/server.ts';
import { createMetrics, type Metrics } from '../admin/metrics.ts';
import { createReadiness, createStoreProbe } from '../admin/readiness.ts';
import { createAudit } from '../audit/create.ts';
import { authFacts, refusalFacts, type AuthEventInput } from '../audit/events.ts';
import { setConfigHash } from '../audit/record-meaning.ts';
import type { AuditWriter } from '../audit/writer.ts';
import { compileConfig } from '../config/compile.ts';
import type { CompileResult, Config } from '../config/types.ts';
import { GatehouseError } from '../errors.ts';
import { loadConfigFile } from '../config/load.ts';
import { createLogger, type Logger } from '../log.ts';
import { buildRuntime, reusableParts, type Runtime, type RuntimeParts } from '../runtime.ts';
import { createRuntimeHolder, restartNeeded, type Built, type ReloadResult, type RuntimeHolder } from '../runtime-holder.ts';
import { waitForStore } from '../session/create.ts';
import { waitForDirectory } from '../directory/create.ts';
import { createListener, listen, urlOf, type ClientRefusal } from '../http/listener.ts';
import { createPipeline } from '../server/pipeline.ts';
import { createShutdown } from '../server/shutdown.ts';
import { watchConfig } from '../config/watch.ts';
import { announceReload, onPeerReload, runSupervisor, workerIndex } from './cluster.ts';

export interface RunningGatehouse {
  /** Base URL of the public listener as bound (port 0 resolved). */
  readonly url: string;
  readonly adminUrl: string;
  current(): Runtime;
  /**
   * Load the config again and swap the whole runtime; on any problem keep the running one.
   * In-flight requests and open WebSockets finish on the runtime they started with.
   */
  reload(options?: { fromPeer?: boolean }): Promise<ReloadResult>;
  /** Stop accepting, drain in-flight requests (bounded), close tunnels and upstream pools. */
  shutdown(): Promise<void>;
}

export type { ReloadResult };

export interface StartOptions {
  readonly log: Logger;
  readonly warnings?: readonly string[];
  /** Collect Node process metrics (CPU, memory, event loop) on /metrics. Default true. */
  readonly processMetrics?: boolean;
  /** Pre-built runtime parts (tests: a session manager with a controlled clock). */
  readonly parts?: RuntimeParts;
  /** Where reload() gets the new config (the config file); without it reload() is refused. */
  readonly loadConfig?: () => CompileResult;
  /** After a successful reload that this process started (workers tell their peers). */
  readonly onReloaded?: () => void;
}

export async function startGatehouse(config: Config, options: StartOptions): Promise<RunningGatehouse> {
  const { log } = options;
  for (const w of options.warnings ?? []) log.warn(w);
  // Readiness and the health gauges: the session store by a PING (cached ~1 s), IdPs as known.
  const storeProbe = createStoreProbe();
  // Read when probed or scraped (after `holder` exists): one runtime snapshot per check.
  const serving = () => {
    const rt = holder.current();
    return { store: rt.sessions.store, idps: () => rt.providers.health() };
  };
  const metrics = createMetrics({
    processMetrics: options.processMetrics ?? true,
    health: {
      sessionStoreUp: async () => (await storeProbe.check(serving().store)).ok,
      identityProviders: () =>
        serving()
          .idps()
          .map((h) => ({ id: h.id, up: h.status === 'ok' })),
    },
  });
  const audit = createAudit(config.audit, log, metrics.audit);
  const onAuthEvent = (e: AuthEventInput) => audit.write(authFacts(undefined, e, Date.now()));
  const holder = await startRuntime(config, options, onAuthEvent);
  let draining = false;
  const tunnels = new Set<Duplex>();
  const pipeline = createPipeline({ current: holder.current, metrics, log, tunnels, audit });
  const publicServer = createListener({ ...pipeline, onClientError: recordRefusal(metrics, audit) }, config.server.tls, {
    headersTimeoutMs: config.server.headersTimeoutMs,
    body: () => ({ idleMs: holder.current().config.server.bodyTimeoutMs, minRate: holder.current().config.server.bodyMinRate }),
  });
  const reload = async (reloadOptions: { fromPeer?: boolean } = {}): Promise<ReloadResult> => {
    if (!options.loadConfig) return { ok: false, error: 'this instance was started without a config file to reload' };
    const result = await holder.reload();
    if (result.ok && !reloadOptions.fromPeer) options.onReloaded?.();
    return result;
  };
  const adminServer = createListener({
    onRequest: createAdminHandler({
      metrics,
      log,
      token: () => holder.current().config.admin.token,
      sessions: () => holder.current().sessions,
      pats: () => holder.current().pats,
      directory: () => ({ directory: holder.current().directory, scim: holder.current().config.scim }),
      onAuthEvent,
      reload: () => reload(),
      ready: createReadiness({ probe: storeProbe, current: serving, audit, draining: () => draining }),
    }),
  });
  const { url, adminUrl } = await listenBoth(config, publicServer, adminServer);
  log.info({ url, admin: adminUrl, routes: config.routes.length, public_url: config.server.publicUrl }, 'gatehouse listening');
  const shutdown = createShutdown({
    log,
    publicServer,
    adminServer,
    tunnels,
    audit,
    timeoutMs: config.server.shutdownTimeoutMs,
    current: holder.current,
    onStart: () => (draining = true),
  });
  return { url, adminUrl, current: holder.current, reload, shutdown };
}

/**
 * Build the first runtime and the holder that reloads it. A reload loads the config again, reuses
 * unchanged parts of the serving runtime, and warns about settings that need a restart.
 */
async function startRuntime(
  config: Config,
  options: StartOptions,
  onAuthEvent: (e: AuthEventInput) => void,
): Promise<RuntimeHolder<Runtime>> {
  const { log } = options;
  setConfigHash(config.hash);
  const first = await buildRuntime(config, log, { onAuthEvent, ...options.parts });
  const store = first.sessions.store;
  if (store.kind !== 'memory' && !(await waitForStore(store, 5000))) {
    log.warn({ store: store.kind }, 'session store not reachable yet: protected routes answer 503 until it is (public routes work)');
  }
  await waitForDirectory(first.directory, 5000);
  const build = async (current: Runtime): Promise<Built<Runtime>> => {
    // reload() answers for an instance without a config file before it gets here.
    if (!options.loadConfig) throw new GatehouseError('GH_INTERNAL', 'no config file to reload');
    const next = options.loadConfig();
    const runtime = await buildRuntime(next.config, log, { onAuthEvent, ...reusableParts(current, next.config) });
    // A new session store (changed settings) must be reachable before it takes traffic.
    if (runtime.sessions !== current.sessions && runtime.sessions.store.kind !== 'memory') {
      await waitForStore(runtime.sessions.store, 5000);
    }
    const later = restartNeeded(config, next.config).map((k) => `${k} changed: it takes effect at the next restart`);
    return { runtime, warnings: [...next.warnings, ...later] };
  };
  return createRuntimeHolder(first, build, {
    onFail(error) {
      log.error({ err: error }, 'config reload failed; the running config stays in force');
      onAuthEvent({ action: 'config_reload_failed', outcome: 'failure', message: error.slice(0, 2000) });
    },
    onSwap(old, runtime, warnings) {
      for (const w of warnings) log.warn(w);
      log.info({ routes: runtime.config.routes.length }, 'config reloaded');
      // Records from now on name the new config (the reload record too; its message names the previous one).
      setConfigHash(runtime.config.hash);
      onAuthEvent({
        action: 'config_reloaded',
        outcome: 'success',
        message: `${runtime.config.routes.length} routes; config ${runtime.config.hash}, was ${old.config.hash}`,
      });
      // Requests that took the old snapshot finish on it; then its pools and unused parts close.
      void old.close(runtime).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'closing the previous runtime failed'));
    },
  });
}

/** Connections Node refused before a request existed: counted and audited like any refused request. */
function recordRefusal(metrics: Metrics, audit: AuditWriter): (r: ClientRefusal) => void {
  return (r) => {
    metrics.requests.inc({ route: '', status: String(r.status) });
    if (!audit.enabled) return;
    if (audit.canAccept()) audit.write(refusalFacts(r, Date.now(), randomUUID()));
    else audit.noteRefused(Date.now());
  };
}

/** Bind the public listener, then the admin one; if the second fails, the first is closed again. */
async function listenBoth(config: Config, publicServer: Server, adminServer: Server): Promise<{ url: string; adminUrl: string }> {
  const publicAddr = await listen(publicServer, config.server.listen);
  try {
    const adminAddr = await listen(adminServer, config.admin.listen);
    return { url: urlOf(publicAddr, config.server.tls !== undefined), adminUrl: urlOf(adminAddr, false) };
  } catch (err) {
    publicServer.close();
    throw err;
  }
}

export async function runStart(configPath: string): Promise<void> {
  const load = () => compileConfig(loadConfigFile(configPath));
  const { config, warnings } = load();
  const log = createLogger(config.logLevel);
  if (config.server.workers > 1 && cluster.isPrimary) {
    for (const w of warnings) log.warn(w);
    runSupervisor(config.server.workers, log);
    return;
  }
  const index = workerIndex();
  const workerLog = index === undefined ? log : log.child({ worker: index });
  // Signals are handled before the listeners open: a supervisor may stop the process the moment
  // "gatehouse listening" is logged, and an unhandled SIGTERM would skip the drain.
  let gh: RunningGatehouse | undefined;
  onShutdownSignal(async () => gh?.shutdown(), workerLog);
  process.on('SIGHUP', () => {
    workerLog.info('SIGHUP: reloading the config');
    // The supervisor signals every worker itself: no need to tell the others.
    void gh?.reload({ fromPeer: cluster.isWorker });
  });
  gh = await startGatehouse(withWorkerPaths(config, index), {
    log: workerLog,
    warnings: index === undefined || index === 1 ? warnings : [],
    loadConfig: () => {
      const next = load();
      return { ...next, config: withWorkerPaths(next.config, index) };
    },
    onReloaded: announceReload,
  });
  const started = gh;
  onPeerReload(() => void started.reload({ fromPeer: true }));
  // With workers, only the first watches the file; the others follow through the supervisor.
  if (config.watch && (index === undefined || index === 1)) watchConfig(configPath, () => void started.reload(), workerLog);
  // A bug in a background task must not take every user's connection down with it.
  process.on('unhandledRejection', (err) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'unhandled rejection'));
}

/**
 * Each worker writes its own audit hash chain and spool: give file sinks and the spool directory
 * a per-worker name (audit.ndjson → audit.w2.ndjson), so chains never interleave in one file.
 */
function withWorkerPaths(config: Config, index: number | undefined): Config {
  if (index === undefined) return config;
  const suffix = (path: string) => path.replace(/(\.[^./]+)?$/, (ext) => `.w${index}${ext}`);
  return {
    ...config,
    audit: {
      ...config.audit,
      spoolDir: join(config.audit.spoolDir, `worker-${index}`),
      sinks: config.audit.sinks.map((s) => (s.type === 'file' ? { ...s, path: suffix(s.path) } : s)),
    },
  };
}

/** First SIGTERM/SIGINT drains and exits 0; a second one exits at once. */
export function onShutdownSignal(shutdown: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received');
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
