// Single-use values with a TTL, apart from session records: pending sign-ins (read once, bounded),
// short-lived values and replay markers. Both backends implement it beside SessionStore
// (memory-store.ts, redis-store.ts); test/session/one-time.contract.ts runs one suite against both.
// Every name prefix is declared here, once: the strings are part of the stored key names
// (Redis: <prefix>e:<name>, <prefix>p:<name>), so replicas of two versions keep understanding
// each other during a rolling upgrade. Change them only with a migration.

/** Bounds on one pending sign-in (putPending). */
export interface PendingBounds {
  /** Live pending values in the whole store (every replica); at this count new ones are refused. */
  readonly max: number;
  /** Who started it (e.g. a hash of the browser's login cookie). */
  readonly owner: string;
  /** Live pending values per owner; beyond, the owner's oldest is dropped. */
  readonly perOwner: number;
}

export type PendingResult =
  | { readonly ok: true }
  /** `retryAfterMs`: when the oldest pending value expires and frees a place (≥ 1). */
  | { readonly ok: false; readonly retryAfterMs: number };

export interface TakenPending {
  readonly value: string;
  readonly ownerPending: number;
}

export interface OneTimeStore {
  /** Keep a short-lived value; replaces any previous one under `name`. */
  put(name: string, value: string, ttlMs: number): Promise<void>;
  /** Read and delete in one step, so a value can be used once only. */
  take(name: string): Promise<string | undefined>;
  /** Read without deleting (markers read on every use: user-not-before.ts). */
  peek(name: string): Promise<string | undefined>;
  /** Remember `name` for `ttlMs`; false when it was already remembered (replay detection). */
  once(name: string, ttlMs: number): Promise<boolean>;
  /**
   * Keep a pending sign-in for `ttlMs`, counted apart from sessions and other short-lived values
   * so that a flood of them evicts nothing else. Refused (nothing written) while `bounds.max` are
   * live; the owner's oldest is dropped when it has more than `bounds.perOwner`.
   */
  putPending(name: string, value: string, ttlMs: number, bounds: PendingBounds): Promise<PendingResult>;
  /**
   * Read and delete a pending value in one step (single use); its place is free at once.
   * `ownerPending`: how many of its owner's pending values are still live.
   */
  takePending(name: string): Promise<TakenPending | undefined>;
}

/** Every kind of one-time name, with the prefix it is stored under (see the header: frozen). */
const PREFIXES = {
  /** Pending sign-in, by the hash of its state / RelayState (auth/login-state.ts). */
  login: 'login',
  /** SAML assertion ID already used (auth/saml/acs.ts). */
  'saml-assertion': 'saml',
  /** SAML LogoutRequest ID already handled (auth/saml/slo.ts). */
  'saml-slo': 'saml-slo',
  /** OIDC back-channel logout token `jti` already used (auth/oidc/backchannel.ts). */
  'bcl-jti': 'bcl',
  /** Shared Signals SET `jti` already applied, scoped by transmitter issuer (auth/ssf/receiver.ts). */
  'ssf-jti': 'ssf',
  /** `gatehouse login` one-time code, by its hash (auth/cli/codes.ts). */
  'cli-code': 'cli-code',
  /** `gatehouse login` refresh token, by its hash (auth/cli/codes.ts). */
  'cli-refresh': 'cli-rt',
  /** Per-user "not before" for IdP bearer tokens, by the hash of the user (user-not-before.ts). */
  'user-nbf': 'nbf',
  /** The sweeper's lock: one replica sweeps per interval (manager.ts sweepEvery). */
  sweep: 'sweep',
} as const;

export type OneTimeKind = keyof typeof PREFIXES;
export type ReplayKind = Exclude<OneTimeKind, 'login' | 'cli-code' | 'cli-refresh' | 'user-nbf' | 'sweep'>;

/** The stored name of a one-time value: `<prefix>:<part>:<part>…`. */
export function oneTimeName(kind: OneTimeKind, ...parts: readonly string[]): string {
  return [PREFIXES[kind], ...parts].join(':');
}

/**
 * What sign-in needs of the store (auth/login-state.ts): pending values, plus `take` for those
 * kept as plain short-lived values by older versions.
 */
export type PendingLogins = Pick<OneTimeStore, 'putPending' | 'takePending' | 'take'>;

/** Replay detection for IdP messages, scoped by identity provider id. */
export interface ReplayGuard {
  /** True the first time `id` of this kind from `idp` is seen within `ttlMs`; false for a replay. */
  once(kind: ReplayKind, idp: string, id: string, ttlMs: number): Promise<boolean>;
  /** Forget a marker `once` set: the message was not acted on after all, so a retry must be let in. */
  forget(kind: ReplayKind, idp: string, id: string): Promise<void>;
}

export function createPendingLogins(store: OneTimeStore): PendingLogins {
  return {
    putPending: (name, value, ttlMs, bounds) => store.putPending(name, value, ttlMs, bounds),
    takePending: (name) => store.takePending(name),
    take: (name) => store.take(name),
  };
}

export function createReplayGuard(store: OneTimeStore): ReplayGuard {
  return {
    once: (kind, idp, id, ttlMs) => store.once(oneTimeName(kind, idp, id), ttlMs),
    forget: async (kind, idp, id) => {
      await store.take(oneTimeName(kind, idp, id));
    },
  };
}
