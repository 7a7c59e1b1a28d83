// The compiled, deep-frozen configuration every other module reads: the types only. compile.ts
// (and its helpers compile-*.ts) build it from the validated raw config.
import type { RawConfig } from './schema.ts';
import type { Secret } from './secret.ts';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface UpstreamConfig {
  /** scheme://host:port, the key for the connection pool. */
  readonly origin: string;
  /** Path prefix of the upstream URL without trailing slash ("" for none). */
  readonly basePath: string;
  /** Host header sent upstream unless preserve_host. */
  readonly host: string;
}

export interface RouteConfig {
  readonly name: string;
  /** Lower-cased host, "*.suffix" for wildcards, undefined for any host. */
  readonly host: string | undefined;
  /** Normalised prefix without trailing slash, "/" for the root. */
  readonly path: string;
  readonly upstream: UpstreamConfig;
  readonly timeoutMs: number;
  readonly preserveHost: boolean;
  /** strip_prefix: the upstream sees paths without `path`, which comes as X-Forwarded-Prefix. */
  readonly stripPrefix: boolean;
  readonly allow: AllowCondition | undefined;
  /** Identity provider ids allowed to sign in to this route; undefined = all. */
  readonly idps: readonly string[] | undefined;
  readonly deny: DenyCondition | undefined;
  readonly rules: readonly RouteRule[];
  readonly roles: Readonly<Record<string, string>> | undefined;
  readonly sendGroups: 'all' | 'policy';
  readonly maxHeaderBytes: number;
  /** Header names for this route (global identity_headers with the route's overrides); "" = not sent. */
  readonly identityHeaders: IdentityHeaderNames;
  /** How the username header's value is made (the config's top-level `username`). */
  readonly username: { readonly from: 'user' | 'email' | 'name'; readonly maxLength: number };
  readonly passAccessToken: boolean;
  /** bearer_header: which request header may carry Gatehouse's bearer token (auth/bearer/credential.ts). */
  readonly bearerHeader: 'any' | 'proxy_authorization';
  readonly apiPaths: readonly string[];
  /** Lower-cased origins allowed to open WebSockets besides the route's own host. */
  readonly allowedOrigins: readonly string[];
  /** Route prefix, rules and api_paths match the policy path case-folded (the default). */
  readonly caseInsensitivePaths: boolean;
  /** Paths with an escape surviving one decoding are let through (unsafe_allow_encoded_escapes). */
  readonly allowEncodedEscapes: boolean;
  readonly assertion: boolean;
  /** Most upstream connections this route's requests hold at once. */
  readonly maxConnections: number;
  /** Requests that may wait for one of them; beyond, and after `timeoutMs` of waiting: 503. */
  readonly maxQueue: number;
}

/**
 * Who an `allow:` names (a route's, or a rule's), as written: only the keys the config sets are
 * present, so a summary can list them. policy/compile.ts turns it into sets.
 */
export interface AllowCondition {
  readonly public?: boolean;
  readonly authenticated?: boolean;
  readonly groups?: readonly string[];
  readonly users?: readonly string[];
  readonly emails?: readonly string[];
  /** email_domains. */
  readonly emailDomains?: readonly string[];
}

/** Who a `deny:` names: the same conditions, except public. */
export type DenyCondition = Omit<AllowCondition, 'public'>;

/** One entry of a route's `rules:`; the first that matches a request decides. */
export interface RouteRule {
  /** Stable id for the audit record: `<route>/<hash of the rule as written>` (config/hash.ts). */
  readonly id: string;
  /** Prefix or glob, as written. */
  readonly path: string;
  /** Upper-case methods as written; undefined = any. */
  readonly methods: readonly string[] | undefined;
  readonly public: boolean;
  /** undefined: the route's allow. */
  readonly allow: AllowCondition | undefined;
  readonly deny: DenyCondition | undefined;
}

export interface IdentityHeaderNames {
  readonly user: string;
  readonly email: string;
  readonly name: string;
  readonly groups: string;
  readonly preferredUsername: string;
  readonly roles: string;
  /** A spawner-safe local user name ("" = not sent, the default). */
  readonly username: string;
  /** Which identity provider vouched for the user: with several, the same name can come from any. */
  readonly idp: string;
  readonly assertion: string;
  readonly accessToken: string;
}

/** oauth2-proxy's names, so existing upstream set-ups work unchanged. */
export const DEFAULT_IDENTITY_HEADERS: IdentityHeaderNames = {
  user: 'X-Forwarded-User',
  email: 'X-Forwarded-Email',
  name: 'X-Forwarded-Name',
  groups: 'X-Forwarded-Groups',
  preferredUsername: 'X-Forwarded-Preferred-Username',
  roles: 'X-Forwarded-Roles',
  username: '',
  idp: 'X-Forwarded-Idp',
  assertion: 'X-Gatehouse-Assertion',
  accessToken: 'Authorization',
};

export interface OidcProviderConfig {
  readonly id: string;
  readonly type: 'oidc';
  readonly displayName: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: Secret | undefined;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  readonly privateKeyFile: string | undefined;
  readonly privateKeyAlg: string;
  readonly scopes: readonly string[];
  readonly claims: { readonly user: string; readonly email: string; readonly name: string; readonly groups: string };
  /** split_group_values_on; undefined: a string groups claim is one group. */
  readonly splitGroupValuesOn: string | undefined;
  readonly userinfo: 'auto' | 'always' | 'never';
  readonly authorizationParams: Readonly<Record<string, string>>;
  readonly revalidateMs: number | undefined;
  readonly clockToleranceSec: number;
  readonly postLogoutRedirectUri: string | undefined;
  /** Bearer JWTs from this IdP are accepted when their aud is one of these; undefined = not accepted. */
  readonly bearerAudiences: readonly string[] | undefined;
  /** `introspection` when enabled: opaque bearer tokens are checked at the IdP, answers kept this long. */
  readonly introspection: { readonly cacheTtlMs: number } | undefined;
  /** `bearer_userinfo` when enabled: bearer tokens' claims completed from userinfo, kept this long. */
  readonly bearerUserinfo: { readonly cacheTtlMs: number } | undefined;
  /** `service_accounts`: client-credentials identities by client id. */
  readonly serviceAccounts: Readonly<Record<string, { readonly user: string | undefined; readonly groups: readonly string[] }>>;
  /** Plain-http issuer on loopback, accepted in dev mode only. */
  readonly allowInsecureHttp: boolean;
  /** `timeout`: longest wait for any answer from the IdP. */
  readonly timeoutMs: number;
  /** `health_check_interval`: reachability probe period, and the cap of the discovery backoff. */
  readonly healthIntervalMs: number;
}

export interface SamlAttributeNames {
  /** Candidate attribute names (Name or FriendlyName), first found wins. */
  readonly user: readonly string[];
  readonly email: readonly string[];
  readonly name: readonly string[];
  readonly firstName: readonly string[];
  readonly lastName: readonly string[];
  readonly groups: readonly string[];
}

export interface SamlProviderConfig {
  readonly id: string;
  readonly type: 'saml';
  readonly displayName: string;
  readonly metadataUrl: string | undefined;
  readonly metadataFile: string | undefined;
  readonly entryPoint: string | undefined;
  /** PEM texts or file paths, resolved when the provider is built. */
  readonly idpCerts: readonly string[];
  readonly idpIssuer: string | undefined;
  readonly sloUrl: string | undefined;
  readonly spEntityId: string;
  readonly spKeyFile: string | undefined;
  readonly spCertFile: string | undefined;
  readonly spDecryptionKeyFile: string | undefined;
  readonly signed: 'assertion' | 'response' | 'both' | 'either';
  readonly attributes: SamlAttributeNames;
  /** attributes.user was set explicitly: no fallback to the NameID. */
  readonly userAttributeRequired: boolean;
  readonly nameIdFormat: string;
  readonly allowIdpInitiated: boolean;
  /** split_group_values_on; undefined: each AttributeValue is one group. */
  readonly splitGroupValuesOn: string | undefined;
  readonly clockSkewMs: number;
  readonly maxResponseBytes: number;
  readonly metadataRefreshMs: number;
  readonly allowInsecureHttp: boolean;
}

export type IdentityProviderConfig = OidcProviderConfig | SamlProviderConfig;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface RedisConfig {
  readonly mode: 'standalone' | 'sentinel' | 'cluster';
  /** Standalone URL (may hold a password, hence Secret). */
  readonly url: Secret | undefined;
  /** Sentinel or cluster seed nodes. */
  readonly nodes: readonly HostPort[];
  readonly name: string | undefined;
  readonly username: string | undefined;
  readonly password: Secret | undefined;
  readonly sentinelPassword: Secret | undefined;
  readonly tls: boolean;
  readonly db: number | undefined;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
}

export interface CookieConfig {
  readonly name: string;
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict' | 'None';
  readonly domain: string | undefined;
}

export interface SessionConfig {
  readonly store: 'memory' | 'redis';
  readonly redis: RedisConfig | undefined;
  readonly maxSessions: number;
  readonly cookie: CookieConfig;
  /** Undefined only with the memory store: the runtime then makes a per-process random one. */
  readonly secret: Secret | undefined;
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly login: LoginLimits;
  /** session.user_token_ttl: lifetime of `gatehouse login` user tokens. */
  readonly userTokenTtlMs: number;
  /** session.cache (near cache in front of Redis); defaults when absent: session/manager.ts DEFAULT_CACHE. */
  readonly cache?: SessionCacheConfig | undefined;
}

export interface SessionCacheConfig {
  readonly maxEntries: number;
  /** Served without a Redis read this long while the invalidation channel is live. */
  readonly ttlMs: number;
}

export interface LoginLimits {
  /** Sign-ins one client address may start per minute; 0 = unlimited. */
  readonly ratePerMinute: number;
  /** Pending sign-ins held at once (the whole deployment, with Redis). */
  readonly maxPending: number;
}

export type AuditSinkConfig =
  | { readonly type: 'stdout' }
  | {
      readonly type: 'file';
      readonly path: string;
      readonly maxBytes: number;
      readonly maxFiles: number;
      readonly fsync: 'always' | 'interval' | 'never';
    }
  | {
      readonly type: 'syslog';
      readonly transport: 'tcp' | 'udp' | 'relp';
      readonly tls: boolean;
      readonly host: string;
      readonly port: number;
      readonly caFile: string | undefined;
      /** TLS client certificate and key files (RFC 5425 mutual TLS). */
      readonly certFile?: string | undefined;
      readonly keyFile?: string | undefined;
      readonly appName: string;
      readonly facility: number;
      readonly timeoutMs: number;
      /** RELP: frames in flight before the oldest is acknowledged. */
      readonly relpWindow: number;
      /** TCP/TLS: re-send what was written this long before a broken connection (0 = off), at most replayMaxRecords. */
      readonly replayWindowMs: number;
      readonly replayMaxRecords: number;
    }
  | {
      readonly type: 'http';
      readonly url: string;
      readonly format: 'hec' | 'ndjson';
      readonly token: Secret | undefined;
      readonly batchSize: number;
      readonly gzip: boolean;
      readonly timeoutMs: number;
      readonly caFile: string | undefined;
      /** HEC only: the index, and indexed fields added to every event. */
      readonly index?: string | undefined;
      readonly fields?: Readonly<Record<string, string>> | undefined;
      /** HEC only: delivered only once indexer acknowledgment says so (sinks/http.ts). */
      readonly ack?: boolean | undefined;
    };

export interface AuditConfig {
  readonly format: 'ecs' | 'ocsf';
  readonly sinks: readonly AuditSinkConfig[];
  readonly onSinkFailure: 'buffer' | 'block';
  readonly spoolDir: string;
  readonly queueSize: number;
  /** Spooled records delivered per second at most, per sink. */
  readonly spoolDrainRate: number;
  /** The chain key's file (audit/create.ts reads it at start), or undefined: an unkeyed chain. */
  readonly chainKeyFile: string | undefined;
  /** Build and deliver records in a worker thread (audit/thread.ts); the main thread posts the facts. */
  readonly workerThread: boolean;
}

/** One Shared Signals transmitter (config `ssf.transmitters[]`). */
export interface SsfTransmitterConfig {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audience: string;
  /** How its SETs name the user (see the schema's `subject`). */
  readonly subject: 'email' | 'opaque' | 'iss_sub';
  readonly algorithms: readonly string[];
}

/** The Shared Signals receiver (`ssf`); undefined in Config when the section is absent. */
export interface SsfConfig {
  readonly transmitters: readonly SsfTransmitterConfig[];
  readonly maxAgeMs: number;
  readonly maxBodyBytes: number;
  readonly ratePerMinute: number;
}

export interface Config {
  /** SHA-256 of the canonical compiled config, secrets redacted (config/hash.ts); on every audit record. */
  readonly hash: string;
  readonly logLevel: RawConfig['log_level'];
  readonly watch: boolean;
  /** http:// public_url on a loopback host: relaxed cookie/URL rules, warned about at start. */
  readonly devMode: boolean;
  readonly server: {
    readonly listen: ListenAddress;
    readonly publicUrl: string;
    readonly trustedProxies: readonly string[];
    readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
    readonly shutdownTimeoutMs: number;
    readonly headersTimeoutMs: number;
    /** Longest pause between two pieces of a request body. */
    readonly bodyTimeoutMs: number;
    /** Bytes per second a body must average after bodyTimeoutMs; 0 = no minimum. */
    readonly bodyMinRate: number;
    /** Longest accepted request target (path + query), bytes. */
    readonly maxTargetBytes: number;
    /** Worker processes; 1 = no supervisor. */
    readonly workers: number;
  };
  readonly admin: {
    readonly listen: ListenAddress;
    readonly token: Secret | undefined;
  };
  readonly session: SessionConfig;
  /** `tokens`: credentials Gatehouse issues itself. */
  readonly tokens: { readonly pat: PatConfig };
  readonly identityProviders: readonly IdentityProviderConfig[];
  /** Forward-auth header source; undefined = /.gatehouse/auth is off. */
  readonly forwardAuth: { readonly headers: 'original_url' | 'forwarded' } | undefined;
  /** Shared Signals receiver; undefined = POST /.gatehouse/ssf/events answers 404. */
  readonly ssf?: SsfConfig | undefined;
  readonly audit: AuditConfig;
  readonly assertion: { readonly keyFiles: readonly string[] | undefined; readonly ttlMs: number };
  /** SCIM 2.0 provisioning; undefined = off. */
  readonly scim: ScimConfig | undefined;
  /** Every identity header name configured anywhere (lower-case): stripped from every request. */
  readonly reservedHeaders: readonly string[];
  readonly routes: readonly RouteConfig[];
}

export interface CompileResult {
  readonly config: Config;
  /** Things that work but deserve a line in the startup log / check-config output. */
  readonly warnings: readonly string[];
}

/** `tokens.pat`: personal access tokens. */
export interface PatConfig {
  readonly enabled: boolean;
  readonly maxTtlMs: number;
  readonly defaultTtlMs: number;
  readonly maxPerUser: number;
  /** Creations per user and hour. */
  readonly createRate: number;
  readonly recheckGroups: boolean;
}

export interface ScimConfig {
  readonly token: Secret;
  /** How SCIM groups combine with the sign-in token's groups, for users known to SCIM. */
  readonly groups: 'replace' | 'merge';
  readonly userKey: 'email' | 'userName' | 'externalId';
  readonly maxBodyBytes: number;
  /** Requests per minute per replica; 0 = unlimited. */
  readonly ratePerMinute: number;
}
