// Shared bits for the unit tests of the manager's parts: a memory store on an injected clock,
// optionally presented as shared (as Redis is) so the manager's cache sits in front of it.
import { createMemoryStore } from '../../src/session/memory-store.ts';
import type { SessionStore } from '../../src/session/store.ts';

export function clockedStore(options: { shared?: boolean } = {}) {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const memory = createMemoryStore({ maxSessions: 100, now });
  const store: SessionStore = options.shared ? Object.assign(Object.create(memory) as SessionStore, { shared: true }) : memory;
  return { clock, now, store };
}

export const flush = () => new Promise((r) => setTimeout(r, 0));
