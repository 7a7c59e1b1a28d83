// Live connections (WebSocket tunnels, SSE and other open-ended responses) follow their session:
// they are closed when it is revoked (any replica, via the store's notifications) and when it
// passes its idle or absolute expiry. Each session with live connections has one timer that wakes
// at its next possible expiry (or after `recheckMs`, to bound staleness if a notification was
// lost) and asks the manager whether the session is still active.

export interface LiveConnection {
  end(reason: 'revoked' | 'expired'): void;
}

export interface LiveRegistry {
  /** Register a connection; returns its unregister function. */
  watch(key: string, nextExpiryAt: number, conn: LiveConnection): () => void;
  /** Check every session with live connections now (notifications may have been missed). */
  recheckAll(): void;
  /** The session ended: close its connections now. */
  endSession(key: string, reason: 'revoked' | 'expired'): void;
  /** Sessions currently holding live connections. */
  keys(): IterableIterator<string>;
  has(key: string): boolean;
  /** Connections currently registered (metrics, tests). */
  size(): number;
  close(): void;
}

export interface LiveRegistryOptions {
  /** Re-check a session; resolves with its next possible expiry, or the reason it ended. */
  check(key: string): Promise<{ active: true; nextExpiryAt: number } | { active: false; reason: 'revoked' | 'expired' }>;
  readonly recheckMs: number;
  readonly now?: () => number;
}

interface Entry {
  conns: Set<LiveConnection>;
  timer: NodeJS.Timeout | undefined;
}

export function createLiveRegistry(options: LiveRegistryOptions): LiveRegistry {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let count = 0;

  const schedule = (key: string, entry: Entry, at: number) => {
    if (entry.timer) clearTimeout(entry.timer);
    const delay = Math.max(0, Math.min(at - now(), options.recheckMs));
    entry.timer = setTimeout(() => void recheck(key), delay);
    entry.timer.unref();
  };

  const recheck = async (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    let result;
    try {
      result = await options.check(key);
    } catch {
      // Store unavailable: fail closed for live connections too.
      result = { active: false as const, reason: 'expired' as const };
    }
    if (!entries.has(key)) return;
    if (result.active) schedule(key, entry, result.nextExpiryAt);
    else endSession(key, result.reason);
  };

  const endSession = (key: string, reason: 'revoked' | 'expired') => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    if (entry.timer) clearTimeout(entry.timer);
    count -= entry.conns.size;
    for (const c of entry.conns) {
      try {
        c.end(reason);
      } catch {
        // A connection that fails to close is already gone.
      }
    }
  };

  return {
    watch(key, nextExpiryAt, conn) {
      let entry = entries.get(key);
      if (!entry) {
        entry = { conns: new Set(), timer: undefined };
        entries.set(key, entry);
        schedule(key, entry, nextExpiryAt);
      }
      entry.conns.add(conn);
      count++;
      return () => {
        const e = entries.get(key);
        if (!e || !e.conns.delete(conn)) return;
        count--;
        if (e.conns.size === 0) {
          if (e.timer) clearTimeout(e.timer);
          entries.delete(key);
        }
      };
    },
    recheckAll() {
      for (const key of [...entries.keys()]) void recheck(key);
    },
    endSession,
    keys: () => entries.keys(),
    has: (key) => entries.has(key),
    size: () => count,
    close() {
      // Nothing will watch these connections any more: end them rather than let them outlive
      // their session unwatched (e.g. a reload that changed the session settings).
      for (const key of [...entries.keys()]) endSession(key, 'expired');
      entries.clear();
      count = 0;
    },
  };
}
