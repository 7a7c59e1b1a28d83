// From config to the directory (the composition root's entry to this folder): in the session
// store's backend — Redis (own connections, same server and key prefix) or this process's memory.
import type { SessionConfig } from '../config/types.ts';
import { createDirectory, type Directory, type DirectoryChange } from './directory.ts';
import { createMemoryKv, createRedisKv } from './kv.ts';

export function directoryFromConfig(session: SessionConfig, onChange?: (c: DirectoryChange) => void): Directory {
  const kv = session.store === 'redis' ? createRedisKv(session.redis!) : createMemoryKv();
  return createDirectory({ kv, ...(onChange ? { onChange } : {}) });
}
