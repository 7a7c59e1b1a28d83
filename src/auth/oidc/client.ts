// One OIDC relying-party client per configured provider (openid-client 6). Discovery runs in the
// background, so Gatehouse starts even when the IdP is down: sign-ins with it fail with a clear
// page until it answers, and existing sessions are unaffected. The IdP's signing keys are one cache
// (jwks.ts), shared by ID token, logout token and bearer token checks.
//
// Reachability (issue 12): while the IdP is unreachable, discovery is retried after 1, 2, 4, 8 s,
// never more than `health_check_interval` apart, and a sign-in that finds it unreachable asks
// again at once (at most every 2 s), so sign-in works within moments of the IdP coming back. Once
// discovered, the discovery document is fetched every `health_check_interval`; that, and what the
// callback sees at the token endpoint, make health() — shown on /readyz and gatehouse_idp_up.
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { importPKCS8 } from 'jose';
import { request } from 'undici';
import type { OidcProviderConfig } from '../../config/types.ts';
import type { Logger } from '../../log.ts';
import { IdpUnavailableError, isIdpUnavailable } from './errors.ts';
import { verifyIdTokenSignature } from './id-token.ts';
import { createIdpJwks, type IdpJwks } from './jwks.ts';

/** What Gatehouse last learned about reaching an IdP. */
export interface IdpHealth {
  /** starting: the first attempt has not finished; unreachable: the last attempt or call failed. */
  readonly status: 'starting' | 'ok' | 'unreachable';
  /** Epoch ms of the last change of `status`. */
  readonly since: number;
  /** Why it is unreachable (no secrets: an error message about a URL the config names). */
  readonly error?: string | undefined;
}

export interface OidcClient {
  readonly config: OidcProviderConfig;
  /**
   * The discovered configuration; throws GH_IDP_UNAVAILABLE until discovery has succeeded. While
   * the IdP is known to be unreachable, a call also asks it again now (rate-limited).
   */
  configuration(): client.Configuration;
  /** Resolves once discovery succeeded (or never; for tests and startup logs). */
  ready(): Promise<void>;
  /** The IdP's signing keys (one cache per IdP; reading it needs discovery to have succeeded). */
  readonly jwks: IdpJwks;
  /** Signature check for ID tokens from this IdP; throws GH_LOGIN_FAILED (GH_IDP_UNAVAILABLE when the JWKS cannot be fetched). */
  verifyIdToken(idToken: string): Promise<void>;
  health(): IdpHealth;
  /** What a call to the IdP showed: it answered (`undefined`), or it could not be reached. */
  noteOutcome(err: unknown): void;
  close(): void;
}

/** Backoff of discovery retries starts here and doubles, up to the health check interval. */
const FIRST_RETRY_MS = 1000;
/** A sign-in asks an unreachable IdP again at most this often (per IdP, per process). */
const ON_DEMAND_GAP_MS = 2000;

export function createOidcClient(config: OidcProviderConfig, log: Logger, now: () => number = Date.now): OidcClient {
  const idp = new IdpConnection(config, log, now);
  const jwks = createIdpJwks(() => idp.configuration().serverMetadata().jwks_uri);
  const self: OidcClient = {
    config,
    configuration: () => idp.configuration(),
    ready: () => idp.ready,
    jwks,
    async verifyIdToken(idToken) {
      try {
        await verifyIdTokenSignature(idToken, { jwks, idp: config.id, clockToleranceSec: config.clockToleranceSec });
      } catch (err) {
        // The JWKS could not be fetched: the IdP's fault, not the user's (and worth a retry).
        const cause = (err as { cause?: unknown }).cause;
        if (isIdpUnavailable(cause)) {
          self.noteOutcome(cause);
          throw new IdpUnavailableError(`identity provider ${config.id} did not serve its keys: ${describe(cause)}`, { cause });
        }
        throw err;
      }
    },
    health: () => idp.health,
    noteOutcome: (err) => idp.noteOutcome(err),
    close: () => idp.close(),
  };
  return self;
}

/**
 * Discovery and reachability of one IdP: discovery is retried with backoff until it succeeds, then
 * the discovery document is checked every health interval; what calls to the IdP showed
 * (noteOutcome) counts too. One attempt runs at a time; the next is scheduled when it ends.
 */
class IdpConnection {
  readonly #config: OidcProviderConfig;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Resolves once discovery succeeded (or never). */
  readonly ready: Promise<void>;
  readonly #markReady: () => void;
  /** Backoff never waits longer than this. */
  readonly #capMs: number;
  #configuration: client.Configuration | undefined;
  #health: IdpHealth;
  /** Failed attempts or calls in a row: the backoff's exponent. */
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #lastOnDemand = -Infinity;
  // A sign-in asked while an attempt was running (it may have started before the IdP came back).
  #askedMeanwhile = false;
  #closed = false;

  constructor(config: OidcProviderConfig, log: Logger, now: () => number) {
    this.#config = config;
    this.#log = log;
    this.#now = now;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.ready = promise;
    this.#markReady = resolve;
    this.#health = { status: 'starting', since: now() };
    this.#capMs = Math.max(FIRST_RETRY_MS, config.healthIntervalMs);
    void this.#attempt();
  }

  get health(): IdpHealth {
    return this.#health;
  }

  /** The discovered configuration, or GH_IDP_UNAVAILABLE; an unreachable IdP is asked again (rate-limited). */
  configuration(): client.Configuration {
    if (this.#health.status === 'unreachable') this.#askAgain();
    if (!this.#configuration) {
      throw new IdpUnavailableError(
        `identity provider ${this.#config.id} is not reachable (${this.#health.error ?? 'not discovered yet'})`,
      );
    }
    return this.#configuration;
  }

  noteOutcome(err: unknown): void {
    if (err === undefined) {
      this.#markUp();
      return;
    }
    this.#markDown(err);
    // Check again soon (with backoff) rather than at the next regular health check.
    if (!this.#inFlight) this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #markUp(): void {
    this.#failures = 0;
    const health = this.#health;
    if (health.status === 'ok') return;
    if (health.status === 'unreachable')
      this.#log.info({ idp: this.#config.id, unreachable_ms: this.#now() - health.since }, 'identity provider reachable again');
    this.#health = { status: 'ok', since: this.#now() };
  }

  #markDown(err: unknown): void {
    this.#failures++;
    const error = describe(err);
    if (this.#health.status === 'unreachable') {
      this.#health = { ...this.#health, error };
      return;
    }
    this.#health = { status: 'unreachable', since: this.#now(), error };
    this.#log.warn(
      { idp: this.#config.id, issuer: this.#config.issuer, err: error },
      this.#configuration
        ? 'identity provider unreachable; signed-in users are not affected, new sign-ins may fail'
        : 'identity provider discovery failed; sign-in with it is unavailable until it succeeds',
    );
  }

  /** The next attempt: a health check at the regular interval, or, while unreachable, after the backoff. */
  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    const config = this.#config;
    const health = this.#health;
    const delay =
      health.status === 'ok' ? config.healthIntervalMs : Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, this.#failures - 1), this.#capMs);
    this.#timer = setTimeout(() => void this.#attempt(), delay);
    this.#timer.unref();
    if (health.status !== 'ok') {
      const fields = { idp: config.id, issuer: config.issuer, err: health.error, failures: this.#failures, retry_in_ms: delay };
      this.#log.debug(
        fields,
        this.#configuration ? 'identity provider health check failed' : 'identity provider discovery failed; retrying',
      );
    }
  }

  /** One discovery or health check at a time; the next is scheduled when it ends. */
  #attempt(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#inFlight ??= this.#check();
    return this.#inFlight;
  }

  async #check(): Promise<void> {
    const config = this.#config;
    try {
      if (this.#configuration) await probe(config);
      else this.#discovered(await discover(config));
      this.#markUp();
    } catch (err) {
      this.#markDown(err);
    } finally {
      this.#inFlight = undefined;
      const again = this.#askedMeanwhile && this.#health.status !== 'ok';
      this.#askedMeanwhile = false;
      if (again) void this.#attempt();
      else this.#schedule();
    }
  }

  #discovered(configuration: client.Configuration): void {
    this.#configuration = configuration;
    this.#log.info({ idp: this.#config.id, issuer: this.#config.issuer }, 'identity provider discovered');
    this.#markReady();
  }

  /** A sign-in found the IdP unreachable: ask again now, unless that was done a moment ago. */
  #askAgain(): void {
    const t = this.#now();
    if (t - this.#lastOnDemand < ON_DEMAND_GAP_MS) return;
    this.#lastOnDemand = t;
    if (this.#inFlight) this.#askedMeanwhile = true;
    else void this.#attempt();
  }
}

/** How Gatehouse authenticates to the token endpoint (config auth_method). */
async function clientAuth(config: OidcProviderConfig): Promise<client.ClientAuth> {
  switch (config.authMethod) {
    case 'client_secret_post':
      return client.ClientSecretPost(config.clientSecret!.value());
    case 'private_key_jwt': {
      const pem = readFileSync(config.privateKeyFile!, 'utf8');
      return client.PrivateKeyJwt(await importPKCS8(pem, config.privateKeyAlg));
    }
    default:
      return client.ClientSecretBasic(config.clientSecret!.value());
  }
}

/** OpenID discovery for the issuer, with the configured timeout on it and on every later call. */
async function discover(config: OidcProviderConfig): Promise<client.Configuration> {
  const timeoutSec = config.timeoutMs / 1000;
  const execute = config.allowInsecureHttp ? [client.allowInsecureRequests] : [];
  const discovered = await client.discovery(
    new URL(config.issuer),
    config.clientId,
    { [client.clockTolerance]: config.clockToleranceSec },
    await clientAuth(config),
    { execute, timeout: timeoutSec },
  );
  discovered.timeout = timeoutSec;
  return discovered;
}

// Is the IdP answering? Its discovery document is the one URL every IdP serves to anyone.
async function probe(config: OidcProviderConfig): Promise<void> {
  const discoveryUrl = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const signal = AbortSignal.timeout(config.timeoutMs);
  const res = await request(discoveryUrl, {
    method: 'GET',
    signal,
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
    headers: { accept: 'application/json' },
  });
  await res.body.dump({ signal, limit: 1024 * 1024 });
  if (res.statusCode !== 200) throw new Error(`discovery document answered HTTP ${res.statusCode}`);
}

/** A short reason: the error's message, with its cause's when that says more ("fetch failed"). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  const code = (err as { code?: unknown }).code;
  const head = typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  return cause && cause.message !== err.message ? `${head} (${cause.message})` : head;
}
