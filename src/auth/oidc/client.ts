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
  let configuration: client.Configuration | undefined;
  let health: IdpHealth = { status: 'starting', since: now() };
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let lastOnDemand = -Infinity;
  // A sign-in asked while an attempt was running (it may have started before the IdP came back).
  let askedMeanwhile = false;
  let closed = false;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const timeoutSec = config.timeoutMs / 1000;
  const capMs = Math.max(FIRST_RETRY_MS, config.healthIntervalMs);
  const discoveryUrl = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;

  const clientAuth = async (): Promise<client.ClientAuth> => {
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
  };

  const markUp = () => {
    failures = 0;
    if (health.status === 'ok') return;
    if (health.status === 'unreachable') log.info({ idp: config.id, unreachable_ms: now() - health.since }, 'identity provider reachable again');
    health = { status: 'ok', since: now() };
  };
  const markDown = (err: unknown) => {
    failures++;
    const error = describe(err);
    if (health.status !== 'unreachable') {
      health = { status: 'unreachable', since: now(), error };
      log.warn({ idp: config.id, issuer: config.issuer, err: error }, configuration
        ? 'identity provider unreachable; signed-in users are not affected, new sign-ins may fail'
        : 'identity provider discovery failed; sign-in with it is unavailable until it succeeds');
    } else {
      health = { ...health, error };
    }
  };

  const discover = async () => {
    const execute = config.allowInsecureHttp ? [client.allowInsecureRequests] : [];
    const discovered = await client.discovery(
      new URL(config.issuer),
      config.clientId,
      { [client.clockTolerance]: config.clockToleranceSec },
      await clientAuth(),
      { execute, timeout: timeoutSec },
    );
    discovered.timeout = timeoutSec;
    configuration = discovered;
    log.info({ idp: config.id, issuer: config.issuer }, 'identity provider discovered');
    markReady();
  };

  // Is the IdP answering? Its discovery document is the one URL every IdP serves to anyone.
  const probe = async () => {
    const signal = AbortSignal.timeout(config.timeoutMs);
    const res = await request(discoveryUrl, { method: 'GET', signal, headersTimeout: config.timeoutMs, bodyTimeout: config.timeoutMs, headers: { accept: 'application/json' } });
    await res.body.dump({ signal, limit: 1024 * 1024 });
    if (res.statusCode !== 200) throw new Error(`discovery document answered HTTP ${res.statusCode}`);
  };

  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    const delay = health.status === 'ok' ? config.healthIntervalMs : Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1), capMs);
    timer = setTimeout(() => void attempt(), delay);
    timer.unref();
    if (health.status !== 'ok') {
      const fields = { idp: config.id, issuer: config.issuer, err: health.error, failures, retry_in_ms: delay };
      log.debug(fields, configuration ? 'identity provider health check failed' : 'identity provider discovery failed; retrying');
    }
  };

  /** One discovery or health check at a time; the next is scheduled when it ends. */
  const attempt = (): Promise<void> => {
    if (closed) return Promise.resolve();
    inFlight ??= (async () => {
      try {
        if (configuration) await probe();
        else await discover();
        markUp();
      } catch (err) {
        markDown(err);
      } finally {
        inFlight = undefined;
        const again = askedMeanwhile && health.status !== 'ok';
        askedMeanwhile = false;
        if (again) void attempt();
        else schedule();
      }
    })();
    return inFlight;
  };
  void attempt();

  /** A sign-in found the IdP unreachable: ask again now, unless that was done a moment ago. */
  const askAgain = () => {
    const t = now();
    if (t - lastOnDemand < ON_DEMAND_GAP_MS) return;
    lastOnDemand = t;
    if (inFlight) askedMeanwhile = true;
    else void attempt();
  };

  const jwks = createIdpJwks(() => self.configuration().serverMetadata().jwks_uri);
  const self: OidcClient = {
    config,
    configuration() {
      if (health.status === 'unreachable') askAgain();
      if (!configuration) {
        throw new IdpUnavailableError(`identity provider ${config.id} is not reachable (${health.error ?? 'not discovered yet'})`);
      }
      return configuration;
    },
    ready: () => ready,
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
    health: () => health,
    noteOutcome(err) {
      if (err === undefined) {
        markUp();
        return;
      }
      markDown(err);
      // Check again soon (with backoff) rather than at the next regular health check.
      if (!inFlight) schedule();
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
  return self;
}

/** A short reason: the error's message, with its cause's when that says more ("fetch failed"). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  const code = (err as { code?: unknown }).code;
  const head = typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  return cause && cause.message !== err.message ? `${head} (${cause.message})` : head;
}
