// From config to the directory (the composition root's entry to this folder): in the session
// store's backend — Redis (own connections, same server and key prefix) or this process's memory.
// Nothing feeds it unless SCIM or the Shared Signals receiver (ssf) is configured: otherwise it
// stays in memory (empty) and costs no Redis connections.
import type { Config } from '../config/types.ts';
import { DEFAULT_CACHE } from '../session/manager.ts';
import { createDirectory, type Directory, type DirectoryChange } from './directory.ts';
import { createMemoryKv, createRedisKv } from './kv.ts';

export function directoryInUse(config: Config): boolean {
  return config.scim !== undefined || config.ssf !== undefined;
}

export function directoryFromConfig(config: Config, onChange?: (c: DirectoryChange) => void): Directory {
  const { session } = config;
  const kv = session.store === 'redis' && directoryInUse(config) ? createRedisKv(session.redis!) : createMemoryKv();
  // Trusted like the session near cache: 1 s, or session.cache.ttl while the channel is live.
  return createDirectory({
    kv,
    cacheTtlMs: 1000,
    cachePushedTtlMs: session.cache?.ttlMs ?? DEFAULT_CACHE.ttlMs,
    cacheMax: session.cache?.maxEntries ?? DEFAULT_CACHE.maxEntries,
    ...(onChange ? { onChange } : {}),
  });
}

/** Wait up to `ms` until the directory hears other replicas' changes (start-up); false if it did not. */
export async function waitForDirectory(directory: Directory, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([directory.listening().then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
