// Live connections (WebSocket tunnels, SSE and other open-ended responses) follow their session:
// they are closed when it is revoked (any replica, via the store's notifications) and when it
// passes its idle or absolute expiry. Each session with live connections has one timer that wakes
// at its next possible expiry (or after `recheckMs`, to bound staleness if a notification was
// lost) and asks the manager whether the session is still active. Connections opened with a
// personal access token are kept under patLiveKey(id) with a check of their own (the token store).

/** Live-registry key of the connections a personal access token opened (never a session key: those have no ':'). */
export const patLiveKey = (id: string) => `pat:${id}`;

export interface LiveConnection {
  end(reason: 'revoked' | 'expired'): void;
}

export interface LiveRegistry {
  /** Register a connection (re-checked with `check` when given, else the registry's); returns its unregister function. */
  watch(key: string, nextExpiryAt: number, conn: LiveConnection, check?: LiveCheck): () => void;
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

/** Re-check a session; resolves with its next possible expiry, or the reason it ended. */
export type LiveCheck = (key: string) => Promise<{ active: true; nextExpiryAt: number } | { active: false; reason: 'revoked' | 'expired' }>;

export interface LiveRegistryOptions {
  readonly check: LiveCheck;
  readonly recheckMs: number;
  readonly now?: () => number;
}

interface Entry {
  conns: Set<LiveConnection>;
  timer: NodeJS.Timeout | undefined;
  check: LiveCheck;
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
      result = await entry.check(key);
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
    watch(key, nextExpiryAt, conn, check) {
      let entry = entries.get(key);
      if (!entry) {
        entry = { conns: new Set(), timer: undefined, check: check ?? options.check };
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
