import { describe, expect, it, onTestFinished } from 'vitest';
import { createMemoryStore } from '../../src/session/memory-store.ts';
import { userIndex } from '../../src/session/store.ts';
import { runOneTimeStoreContract } from './one-time.contract.ts';
import { record, runSessionStoreContract } from './store.contract.ts';

async function makeStore() {
  const s = createMemoryStore({ maxSessions: 1000 });
  onTestFinished(() => s.close());
  return s;
}

runSessionStoreContract('memory', { make: makeStore });
runOneTimeStoreContract('memory', { make: makeStore });

describe('memory store bounds', () => {
  it('evicts the least recently used session beyond max_sessions', async () => {
    const s = createMemoryStore({ maxSessions: 3 });
    await s.set('k1', record('a'), 60_000);
    await s.set('k2', record('b'), 60_000);
    await s.set('k3', record('c'), 60_000);
    // k1 is used (renewed), so k2 is now the oldest idle one.
    await s.touch('k1', record('a'), 60_000);
    await s.set('k4', record('d'), 60_000);
    expect(await s.get('k2')).toBeUndefined();
    expect(await s.get('k1')).toBeDefined();
    expect(await s.get('k3')).toBeDefined();
    expect(await s.get('k4')).toBeDefined();
    expect(await s.listIndex(userIndex('b'))).toEqual([]);
  });

  it('follows an injected clock for expiry', async () => {
    let now = 1_000_000;
    const s = createMemoryStore({ maxSessions: 10, now: () => now });
    await s.set('k1', record('a'), 30_000);
    now += 29_999;
    expect(await s.get('k1')).toBeDefined();
    now += 1;
    expect(await s.get('k1')).toBeUndefined();
  });
});
