// What /readyz and the health gauges report. The session store is judged by a real round trip —
// a PING bounded by session.redis.command_timeout — never by the client's connection state: a
// paused, swapping or overloaded Redis keeps its TCP connection up and answers nothing. The answer
// is kept about a second, so probes and scrapes cost at most one PING per second, and concurrent
// ones share the PING in flight. Identity providers are reported but never make the replica unready:
// signed-in users keep working while an IdP is away; only new sign-ins with that IdP fail.
import type { IdpHealth } from '../auth/oidc/client.ts';
import type { SessionStore } from '../session/store.ts';

/** The /readyz answer: ok decides 200 or 503; checks and identity providers say why. */
export interface ReadyReport {
  readonly ok: boolean;
  readonly checks: Record<string, string>;
  readonly identityProviders?: Record<string, IdpReport>;
}

type IdpHealthList = ReadonlyArray<{ readonly id: string; readonly type: 'oidc' | 'saml' } & IdpHealth>;

export interface ReadinessInputs {
  readonly probe: StoreProbe;
  /** The serving runtime's session store and identity providers, read once per check. */
  current(): { readonly store: SessionStore; idps(): IdpHealthList };
  readonly audit: { ready(): { ok: boolean; checks: Record<string, string> } };
  /** True once shutdown began: a draining replica must leave the load balancer first. */
  draining(): boolean;
}

/**
 * Not ready while draining, or while the session store or the audit trail cannot serve. Identity
 * providers are reported, but never make the replica unready.
 */
export function createReadiness(inputs: ReadinessInputs): () => Promise<ReadyReport> {
  return async () => {
    const rt = inputs.current();
    const store = await inputs.probe.check(rt.store);
    const a = inputs.audit.ready();
    const draining = inputs.draining();
    return {
      ok: !draining && store.ok && a.ok,
      checks: {
        listener: draining ? 'draining' : 'ok',
        session_store: `${rt.store.kind}: ${store.ok ? 'ok' : `unavailable (${store.detail})`}`,
        ...a.checks,
      },
      identityProviders: idpReports(rt.idps()),
    };
  };
}

export interface StoreCheck {
  readonly ok: boolean;
  /** "ok", or why not (the store's error message). */
  readonly detail: string;
}

export interface StoreProbe {
  /** The store's state, at most `ttlMs` old; waits for a PING when the last answer is older. */
  check(store: SessionStore): Promise<StoreCheck>;
}

/** Default age of a cached store check. */
export const STORE_CHECK_TTL_MS = 1000;

export function createStoreProbe(ttlMs = STORE_CHECK_TTL_MS, now: () => number = Date.now): StoreProbe {
  // Per store object: a reload that builds a new store starts with a fresh check.
  const state = new WeakMap<SessionStore, { last?: StoreCheck; at: number; inFlight?: Promise<StoreCheck> }>();
  return {
    check(store) {
      let s = state.get(store);
      if (!s) state.set(store, (s = { at: -Infinity }));
      const entry = s;
      if (entry.last && now() - entry.at < ttlMs) return Promise.resolve(entry.last);
      entry.inFlight ??= store
        .ping()
        .then(
          (): StoreCheck => ({ ok: true, detail: 'ok' }),
          (err: unknown): StoreCheck => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }),
        )
        .then((result) => {
          entry.last = result;
          entry.at = now();
          entry.inFlight = undefined;
          return result;
        });
      return entry.inFlight;
    },
  };
}

/** One identity provider in the /readyz body. */
export interface IdpReport {
  readonly type: 'oidc' | 'saml';
  readonly status: IdpHealth['status'];
  /** ISO time of the last change of `status`. */
  readonly since: string;
  readonly error?: string;
  /** What the state means for users: spelled out, since it does not change the HTTP status. */
  readonly impact: string;
}

const IMPACT: Record<IdpHealth['status'], string> = {
  ok: 'none',
  starting: 'sign-in with this identity provider waits for its first answer',
  unreachable: 'new sign-ins with this identity provider fail (503); signed-in users are not affected',
};

export function idpReports(list: IdpHealthList): Record<string, IdpReport> {
  return Object.fromEntries(
    list.map((h) => [
      h.id,
      {
        type: h.type,
        status: h.status,
        since: new Date(h.since).toISOString(),
        ...(h.error !== undefined && h.status !== 'ok' ? { error: h.error } : {}),
        impact: IMPACT[h.status],
      },
    ]),
  );
}
