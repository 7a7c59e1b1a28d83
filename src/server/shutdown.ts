// Stopping a running Gatehouse in the order that loses nothing: say goodbye to WebSockets, drain the
// public listener (bounded by server.shutdown_timeout), close the runtime's pools and stores, then
// the admin listener (readiness said "draining" until here), and last the audit trail, so every
// record of the drained requests is delivered or spooled.
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '../errors.ts';
import { closeGracefully } from '../http/listener.ts';
import type { Logger } from '../log.ts';
import type { Runtime } from '../runtime.ts';

export interface ShutdownParts {
  readonly log: Logger;
  readonly publicServer: Server;
  readonly adminServer: Server;
  /** Open WebSocket tunnels (client side). */
  readonly tunnels: ReadonlySet<Duplex>;
  readonly timeoutMs: number;
  current(): Runtime;
  readonly audit: { close(): Promise<void> };
  /** Called first: readiness turns "draining" before anything closes. */
  onStart(): void;
}

// WebSocket close frame, status 1001 "going away" (RFC 6455 §7.4.1), unmasked as servers send it.
const GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

/** The shutdown function: the first call runs it, later calls wait for the same run. */
export function createShutdown(parts: ShutdownParts): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= shutdown(parts));
}

async function shutdown(p: ShutdownParts): Promise<void> {
  const { log } = p;
  p.onStart();
  log.info({ in_flight_timeout_ms: p.timeoutMs, websockets: p.tunnels.size }, 'shutting down');
  for (const socket of p.tunnels) {
    socket.end(GOING_AWAY);
    setTimeout(() => socket.destroy(), 1000).unref();
  }
  await closeGracefully(p.publicServer, p.timeoutMs, {
    // Requests still waiting on an upstream at the deadline: fail them with GH_SHUTTING_DOWN,
    // which the proxy answers as a 503 page (with request id and audit record).
    onDeadline: async () => {
      const err = new GatehouseError('GH_SHUTTING_DOWN', 'shutdown_timeout passed while the upstream was still answering');
      await Promise.all([...p.current().upstreams.pools.values()].map((pool) => pool.destroy(err).catch(() => {})));
    },
  });
  // Pools cut at the deadline refuse a second close: that is expected, not a failure.
  await p
    .current()
    .close()
    .catch((err: unknown) => {
      if ((err as { code?: string }).code !== 'UND_ERR_DESTROYED') log.warn({ err: (err as Error).message }, 'closing the runtime failed');
    });
  await closeGracefully(p.adminServer, 1000);
  await p.audit.close();
  log.info('stopped');
}
