// From config to the directory (the composition root's entry to this folder): in the session
// store's backend — Redis (own connections, same server and key prefix) or this process's memory.
// Nothing feeds it unless SCIM is configured: then it stays in memory (empty) and costs no Redis
// connections. (A Shared Signals receiver that uses it adds its own condition here.)
import type { Config } from '../config/types.ts';
import { createDirectory, type Directory, type DirectoryChange } from './directory.ts';
import { createMemoryKv, createRedisKv } from './kv.ts';

export function directoryInUse(config: Config): boolean {
  return config.scim !== undefined;
}

export function directoryFromConfig(config: Config, onChange?: (c: DirectoryChange) => void): Directory {
  const { session } = config;
  const kv = session.store === 'redis' && directoryInUse(config) ? createRedisKv(session.redis!) : createMemoryKv();
  return createDirectory({ kv, ...(onChange ? { onChange } : {}) });
}
