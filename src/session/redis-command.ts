// How a Redis store command fails: always GH_STORE_UNAVAILABLE (protected routes answer 503),
// with ioredis' error kept as the cause. Shared by both halves of the Redis backend.
import { GatehouseError } from '../errors.ts';

export async function runCommand<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new GatehouseError('GH_STORE_UNAVAILABLE', `session store (redis) ${what} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** A PX argument: whole milliseconds, at least 1 (0 or less is refused by Redis). */
export const px = (ms: number) => Math.max(1, Math.ceil(ms));
