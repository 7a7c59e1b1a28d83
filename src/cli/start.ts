// `gatehouse start`: load and compile the config, build the runtime, open the public and admin
// listeners, and drain on SIGTERM/SIGINT. startGatehouse() is also what the demo and tests use.
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createAdminHandler } from '../admin/server.ts';
import { createMetrics } from '../admin/metrics.ts';
import { createStoreProbe, idpReports } from '../admin/readiness.ts';
import { createAudit } from '../audit/create.ts';
import { authFacts, refusalFacts, type AuthEventInput } from '../audit/events.ts';
import { compileConfig, type CompileResult, type Config } from '../config/compile.ts';
import { GatehouseError } from '../errors.ts';
import { settingsFingerprint } from '../config/secret.ts';
import { loadConfigFile } from '../config/load.ts';
import { createLogger, type Logger } from '../log.ts';
import { buildRuntime, reusableParts, type Runtime, type RuntimeParts } from '../runtime.ts';
import { waitForStore } from '../session/create.ts';
import { closeGracefully, createListener, listen, urlOf } from '../http/listener.ts';
import { createPipeline } from '../server/pipeline.ts';
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

export type ReloadResult = { readonly ok: true; readonly warnings: readonly string[] } | { readonly ok: false; readonly error: string };

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

// WebSocket close frame, status 1001 "going away" (RFC 6455 §7.4.1), unmasked as servers send it.
const GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

export async function startGatehouse(config: Config, options: StartOptions): Promise<RunningGatehouse> {
  const { log } = options;
  for (const w of options.warnings ?? []) log.warn(w);
  // Readiness and the health gauges: the session store by a PING (cached ~1 s), IdPs as known.
  const storeProbe = createStoreProbe();
  const metrics = createMetrics({
    processMetrics: options.processMetrics ?? true,
    health: {
      sessionStoreUp: async () => (await storeProbe.check(runtime.sessions.store)).ok,
      identityProviders: () => runtime.providers.health().map((h) => ({ id: h.id, up: h.status === 'ok' })),
    },
  });
  const audit = createAudit(config.audit, log, metrics.audit);
  const onAuthEvent = (e: AuthEventInput) => audit.write(authFacts(undefined, e, Date.now()));
  let runtime = await buildRuntime(config, log, { onAuthEvent, ...options.parts });
  const store = runtime.sessions.store;
  if (store.kind !== 'memory' && !(await waitForStore(store, 5000))) {
    log.warn({ store: store.kind }, 'session store not reachable yet: protected routes answer 503 until it is (public routes work)');
  }
  let draining = false;
  const tunnels = new Set<Duplex>();
  const pipeline = createPipeline({ current: () => runtime, metrics, log, tunnels, audit });

  const tls = config.server.tls;
  const publicServer = createListener({
    ...pipeline,
    // Refused by Node before a request existed: recorded like any refused request.
    onClientError(r) {
      metrics.requests.inc({ route: '', status: String(r.status) });
      if (!audit.enabled) return;
      if (audit.canAccept()) audit.write(refusalFacts(r, Date.now(), randomUUID()));
      else audit.noteRefused(Date.now());
    },
  }, tls, {
    headersTimeoutMs: config.server.headersTimeoutMs,
    body: () => ({ idleMs: runtime.config.server.bodyTimeoutMs, minRate: runtime.config.server.bodyMinRate }),
  });
  const adminServer = createListener({
    onRequest: createAdminHandler({
      metrics,
      log,
      token: () => runtime.config.admin.token,
      sessions: () => runtime.sessions,
      onAuthEvent,
      reload: () => reload(),
      ready: async () => {
        const rt = runtime;
        const store = await storeProbe.check(rt.sessions.store);
        const a = audit.ready();
        return {
          ok: !draining && store.ok && a.ok,
          checks: {
            listener: draining ? 'draining' : 'ok',
            session_store: `${rt.sessions.store.kind}: ${store.ok ? 'ok' : `unavailable (${store.detail})`}`,
            ...a.checks,
          },
          identityProviders: idpReports(rt.providers.health()),
        };
      },
    }),
  });

  const publicAddr = await listen(publicServer, config.server.listen);
  let adminAddr;
  try {
    adminAddr = await listen(adminServer, config.admin.listen);
  } catch (err) {
    publicServer.close();
    throw err;
  }
  const url = urlOf(publicAddr, tls !== undefined);
  const adminUrl = urlOf(adminAddr, false);
  log.info({ url, admin: adminUrl, routes: config.routes.length, public_url: config.server.publicUrl }, 'gatehouse listening');

  // One reload at a time; a reload requested meanwhile runs after it (it may see a newer file).
  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, warnings: [] });
  const reload = (reloadOptions: { fromPeer?: boolean } = {}): Promise<ReloadResult> => {
    reloading = reloading.then(async (): Promise<ReloadResult> => {
      if (!options.loadConfig) return { ok: false, error: 'this instance was started without a config file to reload' };
      let next: CompileResult;
      let nextRuntime: Runtime;
      try {
        next = options.loadConfig();
        nextRuntime = await buildRuntime(next.config, log, { onAuthEvent, ...reusableParts(runtime, next.config) });
        // A new session store (changed settings) must be reachable before it takes traffic.
        if (nextRuntime.sessions !== runtime.sessions && nextRuntime.sessions.store.kind !== 'memory') {
          await waitForStore(nextRuntime.sessions.store, 5000);
        }
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log.error({ err: error }, 'config reload failed; the running config stays in force');
        onAuthEvent({ action: 'config_reload_failed', outcome: 'failure', message: error.slice(0, 2000) });
        return { ok: false, error };
      }
      const restartNeeded = ['listen', 'tls'].filter((k) => JSON.stringify(next.config.server[k as 'listen']) !== JSON.stringify(config.server[k as 'listen']));
      if (JSON.stringify(next.config.admin.listen) !== JSON.stringify(config.admin.listen)) restartNeeded.push('admin.listen');
      if (settingsFingerprint(next.config.audit) !== settingsFingerprint(config.audit)) restartNeeded.push('audit');
      const warnings = [...next.warnings, ...restartNeeded.map((k) => `${k} changed: it takes effect at the next restart`)];
      const old = runtime;
      runtime = nextRuntime;
      for (const w of warnings) log.warn(w);
      log.info({ routes: next.config.routes.length }, 'config reloaded');
      onAuthEvent({ action: 'config_reloaded', outcome: 'success', message: `${next.config.routes.length} routes` });
      // Requests that took the old snapshot finish on it; then its pools and unused parts close.
      void old.close(runtime).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'closing the previous runtime failed'));
      if (!reloadOptions.fromPeer) options.onReloaded?.();
      return { ok: true, warnings };
    });
    return reloading;
  };

  let shuttingDown: Promise<void> | undefined;
  return {
    url,
    adminUrl,
    current: () => runtime,
    reload,
    shutdown() {
      shuttingDown ??= (async () => {
        draining = true;
        log.info({ in_flight_timeout_ms: config.server.shutdownTimeoutMs, websockets: tunnels.size }, 'shutting down');
        for (const socket of tunnels) {
          socket.end(GOING_AWAY);
          setTimeout(() => socket.destroy(), 1000).unref();
        }
        await closeGracefully(publicServer, config.server.shutdownTimeoutMs, {
          // Requests still waiting on an upstream at the deadline: fail them with GH_SHUTTING_DOWN,
          // which the proxy answers as a 503 page (with request id and audit record).
          onDeadline: async () => {
            const err = new GatehouseError('GH_SHUTTING_DOWN', 'shutdown_timeout passed while the upstream was still answering');
            await Promise.all([...runtime.upstreams.pools.values()].map((p) => p.destroy(err).catch(() => {})));
          },
        });
        // Pools cut at the deadline refuse a second close: that is expected, not a failure.
        await runtime.close().catch((err: unknown) => {
          if ((err as { code?: string }).code !== 'UND_ERR_DESTROYED') log.warn({ err: (err as Error).message }, 'closing the runtime failed');
        });
        await closeGracefully(adminServer, 1000);
        await audit.close();
        log.info('stopped');
      })();
      return shuttingDown;
    },
  };
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
  const gh = await startGatehouse(withWorkerPaths(config, index), { log: workerLog, warnings: index === undefined || index === 1 ? warnings : [], loadConfig: () => {
    const next = load();
    return { ...next, config: withWorkerPaths(next.config, index) };
  }, onReloaded: announceReload });
  process.on('SIGHUP', () => {
    workerLog.info('SIGHUP: reloading the config');
    // The supervisor signals every worker itself: no need to tell the others.
    void gh.reload({ fromPeer: cluster.isWorker });
  });
  onPeerReload(() => void gh.reload({ fromPeer: true }));
  // With workers, only the first watches the file; the others follow through the supervisor.
  if (config.watch && (index === undefined || index === 1)) watchConfig(configPath, () => void gh.reload(), workerLog);
  // A bug in a background task must not take every user's connection down with it.
  process.on('unhandledRejection', (err) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'unhandled rejection'));
  onShutdownSignal(() => gh.shutdown(), workerLog);
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
    shutdown().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
