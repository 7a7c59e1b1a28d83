// One OIDC relying-party client per configured provider (openid-client 6). Discovery runs in the
// background with backoff, so Gatehouse starts even when the IdP is down: sign-ins with it fail
// with a clear page until it answers, and existing sessions are unaffected. ID token signatures
// are checked by id-token.ts (verifyIdToken) against the IdP's JWKS.
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { importPKCS8 } from 'jose';
import type { OidcProviderConfig } from '../../config/compile.ts';
import { GatehouseError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { createIdTokenVerifier } from './id-token.ts';

export interface OidcClient {
  readonly config: OidcProviderConfig;
  /** The discovered configuration; throws GH_IDP_UNAVAILABLE until discovery has succeeded. */
  configuration(): client.Configuration;
  /** Resolves once discovery succeeded (or never; for tests and startup logs). */
  ready(): Promise<void>;
  /** Signature check for ID tokens from this IdP; throws GH_LOGIN_FAILED. */
  verifyIdToken(idToken: string): Promise<void>;
  close(): void;
}

const MAX_BACKOFF_MS = 60_000;

export function createOidcClient(config: OidcProviderConfig, log: Logger): OidcClient {
  let configuration: client.Configuration | undefined;
  let lastError = 'not discovered yet';
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));

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

  const discover = async (attempt: number): Promise<void> => {
    if (closed) return;
    try {
      const execute = config.allowInsecureHttp ? [client.allowInsecureRequests] : [];
      configuration = await client.discovery(
        new URL(config.issuer),
        config.clientId,
        { [client.clockTolerance]: config.clockToleranceSec },
        await clientAuth(),
        { execute, timeout: 10 },
      );
      configuration.timeout = 10;
      log.info({ idp: config.id, issuer: config.issuer }, 'identity provider discovered');
      markReady();
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      const delay = Math.min(1000 * 2 ** attempt, MAX_BACKOFF_MS);
      log.warn({ idp: config.id, issuer: config.issuer, err: lastError, retry_in_ms: delay }, 'identity provider discovery failed; sign-in with it is unavailable until it succeeds');
      if (!closed) {
        timer = setTimeout(() => void discover(attempt + 1), delay);
        timer.unref();
      }
    }
  };
  void discover(0);

  const self: OidcClient = {
    config,
    configuration() {
      if (!configuration) {
        throw new GatehouseError('GH_IDP_UNAVAILABLE', `identity provider ${config.id} is not reachable (${lastError})`);
      }
      return configuration;
    },
    ready: () => ready,
    verifyIdToken: (idToken) => verifier(idToken),
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
  const verifier = createIdTokenVerifier(self);
  return self;
}
