// The one declaration of the config file's shape: keys, defaults and per-key docs. The raw types
// derive from it, config/gatehouse.schema.json is generated from it (npm run schema), and
// compile.ts turns a parsed file into the frozen runtime Config. Shape checks live here;
// cross-key checks (duplicate names, dev mode) live in compile.ts.
import { z } from 'zod';
import { ASYMMETRIC_ALGS } from './algorithms.ts';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

export const duration = () => z.string().regex(DURATION, { error: 'must be a duration like "30s", "15m" or "12h"' });

const portInRange = (v: string) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535;

const listen = () =>
  z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/, { error: 'must be "host:port", e.g. "0.0.0.0:4180" or "[::1]:4180"' })
    .refine(portInRange, { error: 'port must be 0-65535' });

const httpUrl = () =>
  z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { error: 'not a URL (expected http:// or https://)' });

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Who may pass: anyone (public), any signed-in user, or the users, e-mails, e-mail domains and groups listed. */
const allow = z.strictObject({
  public: z.boolean().optional().describe('Anyone, signed in or not.'),
  authenticated: z.boolean().optional().describe('Any signed-in user.'),
  groups: z.array(z.string().min(1)).optional().describe('Signed-in users in any of these groups.'),
  users: z.array(z.string().min(1)).optional().describe('These users (the identity `user` value).'),
  emails: z.array(z.string().min(1)).optional().describe('These e-mail addresses.'),
  email_domains: z.array(z.string().min(1)).optional().describe('Users whose e-mail is in one of these domains.'),
});

/** The same conditions, for `deny:` (public makes no sense there). */
const deny = allow.omit({ public: true });

const METHOD = /^[A-Z]{1,16}$/;
const RULE_PATH = /^\/[^\s?#]*$/;

const rule = z.strictObject({
  path: z
    .string()
    .regex(RULE_PATH, { error: 'must be a path starting with "/" (prefix, or a glob with * and **)' })
    .describe('Prefix ("/api"), or glob: "*" one segment, "**" any depth ("/api/**", "/projects/*/export").'),
  methods: z
    .array(z.string().regex(METHOD, { error: 'must be an upper-case HTTP method' }))
    .min(1)
    .optional()
    .describe('Only these methods; default all.'),
  public: z.boolean().optional().describe('Anyone, signed in or not (e.g. /health).'),
  allow: allow.optional().describe("Who may; default: the route's allow."),
  deny: deny.optional().describe('Who may not (beats allow).'),
});

const headerName = () =>
  z.string().regex(/^([!#$%&'*+.^_`|~0-9A-Za-z-]+)?$/, { error: 'must be an HTTP header name (or "" to not send it)' });

const identityHeaders = z.strictObject({
  user: headerName().optional(),
  email: headerName().optional(),
  name: headerName().optional(),
  groups: headerName().optional(),
  preferred_username: headerName().optional(),
  roles: headerName().optional(),
  username: headerName()
    .optional()
    .describe('A spawner-safe local user name (see `username`), e.g. X-Forwarded-Username; default not sent.'),
  idp: headerName().optional().describe('The id of the identity provider that vouched for the user (default X-Forwarded-Idp).'),
  assertion: headerName().optional(),
  access_token: headerName().optional().describe('Where pass_access_token puts the token (default Authorization, as "Bearer <token>").'),
});

const route = z.strictObject({
  name: z
    .string()
    .regex(ROUTE_NAME, { error: 'must be 1-63 letters, digits, ".", "_" or "-"' })
    .describe('Unique route name, used in metrics, logs and audit records.'),
  host: z
    .string()
    .regex(HOST_PATTERN, { error: 'must be a host name like "mlflow.corp.example" or "*.corp.example"' })
    .optional()
    .describe('Exact host or "*.suffix" wildcard; omitted = any host.'),
  path: z
    .string()
    .startsWith('/', { error: 'must start with "/"' })
    .default('/')
    .describe('Path prefix, matched on whole segments ("/api" matches "/api/x", not "/apix").'),
  upstream: httpUrl().describe('Where matching requests go, e.g. "http://127.0.0.1:5000".'),
  timeout: duration().default('30s').describe('How long to wait for the upstream to start answering (then 504).'),
  preserve_host: z.boolean().default(false).describe("Send the client's Host header upstream instead of the upstream's own host."),
  strip_prefix: z
    .boolean()
    .default(false)
    .describe(
      "Remove the route's path prefix before proxying (/code/x reaches the upstream as /x), send it as X-Forwarded-Prefix, and put upstream redirects (Location) and cookie paths back under it.",
    ),
  allow: allow.optional().describe('Who may use the route. Omitted = nobody (default deny).'),
  idps: z.array(z.string().min(1)).min(1).optional().describe('Identity providers allowed to sign in to this route (ids); default all.'),
  deny: deny.optional().describe('Who may never use the route (beats allow and rules).'),
  rules: z.array(rule).optional().describe('Checked in order; the first whose path and method match decides.'),
  roles: z.record(z.string().min(1), z.string().min(1)).optional().describe('Group → role, sent as X-Forwarded-Roles.'),
  send_groups: z.enum(['all', 'policy']).default('all').describe("policy: send only the groups this route's policy mentions."),
  max_header_bytes: z
    .number()
    .int()
    .min(256)
    .max(1_048_576)
    .default(8192)
    .describe('Identity headers larger than this are refused (never truncated).'),
  identity_headers: identityHeaders.optional().describe('Per-route header names (e.g. user: Remote-User); "" = not sent.'),
  pass_access_token: z.boolean().default(false).describe('Send the IdP access token upstream (Authorization: Bearer).'),
  bearer_header: z
    .enum(['any', 'proxy_authorization'])
    .default('any')
    .describe(
      "Where Gatehouse reads a bearer token: any = Proxy-Authorization: Bearer, else Authorization: Bearer (which then also reaches the upstream); proxy_authorization = only Proxy-Authorization, so Authorization, Bearer or not, is always the tool's and goes upstream untouched (tools whose own API tokens are Bearer).",
    ),
  api_paths: z
    .array(z.string().regex(RULE_PATH))
    .optional()
    .describe('Paths (prefix or glob) whose clients get 401/403 JSON, never a redirect.'),
  allowed_origins: z
    .array(z.string())
    .optional()
    .describe("Origins (scheme://host[:port]) besides the route's own allowed to open WebSockets."),
  case_insensitive_paths: z
    .boolean()
    .default(true)
    .describe(
      'Match the route prefix, rules and api_paths ignoring case, as Express, IIS and ASP.NET serve paths (safe default). false: only for upstreams that treat /Admin and /admin as different resources.',
    ),
  unsafe_allow_encoded_escapes: z
    .boolean()
    .default(false)
    .describe(
      'Let through paths that still hold an escape after decoding ("%252F"). Unsafe: an upstream or proxy that decodes twice sees another path than the policy judged.',
    ),
  assertion: z.boolean().default(true).describe('Send the signed X-Gatehouse-Assertion JWT.'),
  max_connections: z
    .number()
    .int()
    .min(1)
    .max(65_536)
    .default(256)
    .describe("Most connections this route's requests hold to its upstream at once (a slow client holds one for as long as it sends)."),
  max_queue: z
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(1024)
    .describe('Requests that may wait for a free upstream connection; more, or waiting longer than `timeout`, get 503 GH_UPSTREAM_BUSY.'),
});

const tls = z.strictObject({
  cert_file: z.string().min(1).describe('PEM certificate chain.'),
  key_file: z.string().min(1).describe('PEM private key.'),
});

const server = z.strictObject({
  listen: listen().default('0.0.0.0:4180').describe('Public listener, "host:port".'),
  public_url: httpUrl().describe('Base URL users reach Gatehouse at; https:// except in dev mode (http on loopback).'),
  trusted_proxies: z.array(z.string()).default([]).describe('CIDRs or IPs whose X-Forwarded-For/Proto/Host and X-Request-Id are believed.'),
  tls: tls.optional().describe('Serve HTTPS on the public listener.'),
  max_target_bytes: z
    .number()
    .int()
    .min(256)
    .max(65_536)
    .default(8192)
    .describe("Longest request target (path and query) accepted; longer ones get 414 (nginx's default is 8k too)."),
  shutdown_timeout: duration().default('10s').describe('How long SIGTERM waits for in-flight requests before closing them.'),
  headers_timeout: duration()
    .default('30s')
    .describe('The request line and headers must arrive within this (slowloris); then 408 and the connection is closed.'),
  body_timeout: duration()
    .default('60s')
    .describe('Longest pause between two pieces of a request body; then 408 and the connection is closed.'),
  body_min_rate: z
    .number()
    .int()
    .min(0)
    .default(500)
    .describe(
      'Bytes per second a request body must average once body_timeout has passed (time spent waiting on the upstream does not count); 0 = no minimum.',
    ),
  workers: z
    .union([z.literal('auto'), z.number().int().min(1).max(64)])
    .default(1)
    .describe(
      'Worker processes sharing the listeners (node:cluster); "auto" = one per CPU but one (one on two CPUs). Needs session.store: redis when > 1.',
    ),
});

const admin = z.strictObject({
  listen: listen().default('127.0.0.1:4181').describe('Admin listener: /healthz, /readyz, /metrics, /admin/*.'),
  token: z
    .string()
    .min(16, { error: 'must be at least 16 characters' })
    .optional()
    .describe('Bearer token for /admin/*; unset = /admin/* refused.'),
});

const hostPort = () =>
  z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/, { error: 'must be "host:port"' })
    .refine(portInRange, { error: 'port must be 0-65535' });

const redis = z.strictObject({
  url: z
    .string()
    .refine((v) => URL.canParse(v) && /^rediss?:$/.test(new URL(v).protocol), { error: 'must be a redis:// or rediss:// URL' })
    .optional()
    .describe('Standalone Redis, e.g. "redis://:password@10.0.0.5:6379/0"; rediss:// for TLS.'),
  sentinels: z.array(hostPort()).min(1).optional().describe('Sentinel addresses ("host:port"); needs `name`.'),
  name: z.string().min(1).optional().describe('Sentinel master name.'),
  cluster: z.array(hostPort()).min(1).optional().describe('Redis Cluster seed nodes ("host:port").'),
  username: z.string().min(1).optional().describe("ACL user (overrides the URL's)."),
  password: z.string().min(1).optional().describe("Password (overrides the URL's)."),
  sentinel_password: z.string().min(1).optional().describe('Password for the sentinels themselves.'),
  tls: z.boolean().optional().describe('TLS to Redis (implied by rediss://).'),
  db: z.number().int().min(0).optional().describe('Database number (standalone and sentinel).'),
  key_prefix: z.string().default('gatehouse:').describe('Prefix of every key Gatehouse writes.'),
  command_timeout: duration().default('2s').describe('A Redis command slower than this fails (protected routes answer 503).'),
});

const cookie = z.strictObject({
  name: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'must be a cookie name token' })
    .optional()
    .describe('Default "__Host-gatehouse", or "__Secure-gatehouse" when `domain` is set.'),
  secure: z.boolean().default(true).describe('Send the cookie over HTTPS only; false is allowed in dev mode only.'),
  same_site: z.enum(['lax', 'strict', 'none']).default('lax').describe('SameSite attribute.'),
  domain: z
    .string()
    .regex(HOST_PATTERN, { error: 'must be a domain like "corp.example"' })
    .optional()
    .describe('Share the session across subdomains of this domain (then the __Host- prefix cannot be used).'),
});

const session = z.strictObject({
  store: z.enum(['memory', 'redis']).default('memory').describe('memory: one process, lost on restart; redis: shared by replicas.'),
  redis: redis.optional().describe('Redis connection for store: redis (url, or sentinels + name, or cluster).'),
  memory: z
    .strictObject({
      max_sessions: z.number().int().min(1).default(100_000).describe('Oldest-idle sessions are evicted beyond this.'),
    })
    .optional()
    .describe('Memory store options.'),
  cookie: cookie.default({ secure: true, same_site: 'lax' }).describe('Session cookie.'),
  login: z
    .strictObject({
      rate_per_minute: z
        .number()
        .int()
        .min(0)
        .default(60)
        .describe('Sign-ins one client address may start per minute (bursts up to the same number); 0 = no limit.'),
      max_pending: z
        .number()
        .int()
        .min(1)
        .default(10_000)
        .describe('Sign-ins waiting for the identity provider at once, across all replicas; more get 429.'),
    })
    .optional()
    .describe('Limits on starting sign-ins (each one is remembered for 10 minutes).'),
  secret: z.string().optional().describe('At least 32 bytes; signs cookies and encrypts stored IdP tokens. Required with store: redis.'),
  idle_timeout: duration().default('30m').describe('A session unused this long ends.'),
  absolute_timeout: duration().default('12h').describe('A session ends this long after sign-in, used or not.'),
  cache: z
    .strictObject({
      max_entries: z
        .number()
        .int()
        .min(1)
        .default(50_000)
        .describe(
          'Sessions each process keeps in its near cache (store: redis); least recently used forgotten first. About 0.6 KB each, 3.5 KB with sealed IdP tokens.',
        ),
      ttl: duration()
        .default('5m')
        .describe(
          'How long a cached session is served without asking Redis while the invalidation channel is live (revocations are pushed at once); 1s when it is down.',
        ),
    })
    .optional()
    .describe('Near cache in front of the Redis session store.'),
  user_token_ttl: duration()
    .default('10m')
    .describe('Lifetime of each `gatehouse login` user token (30s to 1h); its CLI session has the timeouts above.'),
});

const IDP_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const byteSize = () => z.string().regex(/^\d+\s*(B|KB|MB|GB)?$/i, { error: 'must be a size like "100MB"' });

const oidcProvider = z.strictObject({
  id: z
    .string()
    .regex(IDP_ID, { error: 'must be 1-32 lower-case letters, digits, "_" or "-" (it appears in URLs)' })
    .describe('Used in URLs: /.gatehouse/oidc/<id>/callback.'),
  type: z.literal('oidc'),
  display_name: z.string().min(1).optional().describe('Shown on the sign-in chooser.'),
  issuer: httpUrl().describe('Issuer URL; discovery at issuer + /.well-known/openid-configuration.'),
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional().describe('Required for client_secret_basic and client_secret_post.'),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).default('client_secret_basic'),
  private_key_file: z.string().min(1).optional().describe('PEM private key (PKCS#8) for private_key_jwt.'),
  private_key_alg: z.enum(['RS256', 'PS256', 'ES256', 'EdDSA']).default('RS256').describe('Signing algorithm of private_key_file.'),
  scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile']).describe('Must include openid.'),
  claims: z
    .strictObject({
      user: z.string().min(1).default('email').describe('Claim that names the user (policy `users`, admin API, headers).'),
      email: z.string().min(1).default('email'),
      name: z.string().min(1).default('name'),
      groups: z
        .string()
        .min(1)
        .default('groups')
        .describe('A list of group names; a single string is one group (see split_group_values_on).'),
    })
    .default({ user: 'email', email: 'email', name: 'name', groups: 'groups' }),
  split_group_values_on: z
    .enum([',', ';', '|', ' '])
    .optional()
    .describe(
      'Off by default: a string groups claim is one group. Only for an IdP that packs several groups into one string: split it on this character (a group name containing it then grants each part).',
    ),
  userinfo: z
    .enum(['auto', 'always', 'never'])
    .default('auto')
    .describe('Fetch claims from the userinfo endpoint: auto = when the ID token has no groups (e.g. Entra ID group overage).'),
  authorization_params: z
    .record(z.string(), z.string())
    .optional()
    .describe('Extra authorization request parameters (e.g. prompt, hd, acr_values).'),
  bearer_audiences: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      'Accept bearer tokens (Authorization: Bearer, or Proxy-Authorization: Bearer when the tool keeps Authorization) from this IdP: JWTs whose aud is one of these (API clients, SDKs); with introspection, also opaque tokens whose aud or client_id is one of these.',
    ),
  introspection: z
    .strictObject({
      enabled: z
        .boolean()
        .default(false)
        .describe(
          "Ask the IdP's RFC 7662 introspection_endpoint (from discovery) about bearer tokens that are not JWTs, authenticating as this client (client_id and its secret or key).",
        ),
      cache_ttl: duration()
        .default('60s')
        .describe(
          "How long an answer is remembered (at most 1h, never past the token's exp): a token revoked at the IdP keeps working this long.",
        ),
    })
    .optional()
    .describe(
      'Opaque IdP access tokens (not JWTs) as bearer tokens; needs bearer_audiences. With several IdPs doing this, an opaque token is shown to each in config order until one knows it.',
    ),
  bearer_userinfo: z
    .strictObject({
      enabled: z
        .boolean()
        .default(false)
        .describe(
          "Complete bearer tokens' claims (groups above all) from the userinfo endpoint, as sign-ins do per `userinfo` (auto: only when the token carries no groups).",
        ),
      cache_ttl: duration()
        .default('5m')
        .describe(
          "How long userinfo answers are remembered per token (at most 1h, never past the token's exp): group changes at the IdP show after this long.",
        ),
    })
    .optional()
    .describe(
      'Groups for bearer tokens from userinfo (Okta, Entra and Keycloak access tokens carry none by default). A token the userinfo endpoint refuses is refused.',
    ),
  service_accounts: z
    .record(
      z.string().min(1),
      z.strictObject({
        user: z
          .string()
          .min(1)
          .optional()
          .describe('The user name the service is known by (policy `users`, headers); default: the client id.'),
        groups: z.array(z.string().min(1)).default([]).describe('Groups the service is in (added to any its token carries).'),
      }),
    )
    .optional()
    .describe(
      "Client-credentials identities by client id (the token's client_id, azp or appid claim, when it names no user of its own): the user and groups they count as, so routes can use group policy for services.",
    ),
  revalidate_interval: duration()
    .optional()
    .describe('Refresh tokens at least this often, even when they are long-lived (needs a refresh token).'),
  clock_tolerance: duration().default('30s').describe('Allowed clock skew when checking ID token times.'),
  post_logout_redirect_uri: httpUrl()
    .optional()
    .describe('Where the IdP sends the browser after sign-out; default <public base>/.gatehouse/logout.'),
  timeout: duration()
    .default('10s')
    .describe(
      'How long to wait for the IdP (discovery, token, userinfo, health checks); then 503 GH_IDP_UNAVAILABLE, and a sign-in callback offers to start again.',
    ),
  health_check_interval: duration()
    .default('10s')
    .describe(
      "How often the IdP's discovery document is fetched to report it on /readyz and gatehouse_idp_up; also the longest pause between discovery retries while it is unreachable.",
    ),
});

const samlAttributes = z.strictObject({
  user: z.string().min(1).optional().describe('Attribute (Name or FriendlyName) naming the user; default: the NameID.'),
  email: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  first_name: z.string().min(1).optional(),
  last_name: z.string().min(1).optional(),
  groups: z.string().min(1).optional(),
});

const samlProvider = z.strictObject({
  id: z
    .string()
    .regex(IDP_ID, { error: 'must be 1-32 lower-case letters, digits, "_" or "-" (it appears in URLs)' })
    .describe('Used in URLs: /.gatehouse/saml/<id>/acs, /metadata, /slo.'),
  type: z.literal('saml'),
  display_name: z.string().min(1).optional(),
  idp_metadata_url: httpUrl().optional().describe('IdP metadata, fetched at start and refreshed; the last good copy is kept.'),
  idp_metadata_file: z.string().min(1).optional(),
  entry_point: httpUrl().optional().describe('IdP SSO URL (HTTP-Redirect), when not using metadata.'),
  idp_cert: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .describe('IdP signing certificate(s), PEM text or file paths; several during a rotation.'),
  idp_issuer: z.string().min(1).optional().describe('Expected Issuer of responses; default: the metadata entityID.'),
  slo_url: httpUrl().optional().describe('IdP single logout URL, when not using metadata.'),
  sp_entity_id: z.string().min(1).describe("This SP's entityID (the Audience the IdP must address)."),
  sp_key_file: z.string().min(1).optional().describe('PEM private key: signs AuthnRequests and logout messages.'),
  sp_cert_file: z.string().min(1).optional().describe('PEM certificate for sp_key_file, published in the SP metadata.'),
  sp_decryption_key_file: z.string().min(1).optional().describe('PEM private key for encrypted assertions (default: sp_key_file).'),
  signed: z.enum(['assertion', 'response', 'both', 'either']).default('assertion').describe('Which part must carry a valid IdP signature.'),
  preset: z.enum(['generic', 'azure', 'okta', 'google', 'adfs']).default('generic').describe('Common attribute names for this IdP family.'),
  attributes: samlAttributes.default({}).describe('Attribute names as the IdP sends them (override the preset).'),
  nameid_format: z.string().min(1).default('urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'),
  allow_idp_initiated: z.boolean().default(false).describe('Accept unsolicited responses (no InResponseTo).'),
  split_group_values_on: z
    .enum([',', ';', '|'])
    .optional()
    .describe(
      'Off by default: each AttributeValue is one group. Only for an IdP that packs several groups into one value: split values on this character (a group name containing it then grants each part).',
    ),
  clock_skew: duration().default('60s'),
  max_response_size: byteSize().default('256KB'),
  metadata_refresh: duration().default('1h'),
});

const identityProvider = z.discriminatedUnion('type', [oidcProvider, samlProvider], {
  error: (issue) => (issue.code === 'invalid_union' ? 'type must be "oidc" or "saml"' : undefined),
});

const auditSink = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('stdout') }),
    z.strictObject({
      type: z.literal('file'),
      path: z.string().min(1).describe('NDJSON file, appended.'),
      max_size: byteSize().default('100MB').describe('Rotate when the file would grow past this.'),
      max_files: z.number().int().min(1).max(1000).default(10).describe('Rotated files kept (path.1 ... path.N).'),
      fsync: z.enum(['always', 'interval', 'never']).default('interval').describe('always: every batch; interval: once a second.'),
    }),
    z.strictObject({
      type: z.literal('syslog'),
      url: z
        .string()
        .regex(/^(tcp|udp|tls|relp):\/\/[^/\s]+:\d+$/, {
          error: 'must be relp://host:port, tcp://host:port, tls://host:port or udp://host:port',
        })
        .describe(
          'RFC 5424 syslog. relp://: RELP (rsyslog imrelp), every record acknowledged, none lost; tcp:// and tls:// (RFC 6587 octet counting / RFC 5425): at least once through breaks within replay_window; udp://: at most once.',
        ),
      tls: z
        .boolean()
        .default(false)
        .describe('TLS (RFC 5425 for tcp://; from the first byte for relp://, as imrelp tls="on"); implied by tls://.'),
      ca_file: z.string().min(1).optional().describe('PEM CA bundle to verify the receiver.'),
      cert_file: z
        .string()
        .min(1)
        .optional()
        .describe('TLS only: PEM client certificate, for a receiver that requires one (RFC 5425 mutual TLS); with key_file.'),
      key_file: z.string().min(1).optional().describe('TLS only: PEM private key of cert_file.'),
      app_name: z
        .string()
        .regex(/^[!-~]{1,48}$/)
        .default('gatehouse'),
      facility: z.number().int().min(0).max(23).default(10).describe('Syslog facility (10 = authpriv).'),
      timeout: duration()
        .default('10s')
        .describe(
          'Connecting (tcp, tls, relp), and for relp how long an acknowledgement may take before the session is dropped and its unacknowledged records sent again.',
        ),
      relp_window: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .optional()
        .describe('relp:// only: records sent before the oldest is acknowledged (default 128, as librelp).'),
      replay_window: duration()
        .optional()
        .describe(
          'tcp:// and tls:// only: when a connection breaks, records written this long before are sent again on the next one (receivers drop the duplicates by boot id + sequence); default 10s, 0s = off.',
        ),
      replay_max_records: z
        .number()
        .int()
        .min(0)
        .max(1_000_000)
        .optional()
        .describe('tcp:// and tls:// only: at most this many records in the replay window (default 10000).'),
    }),
    z.strictObject({
      type: z.literal('http'),
      url: httpUrl().describe('Splunk HEC (…/services/collector/event) or any NDJSON POST endpoint.'),
      format: z.enum(['hec', 'ndjson']).default('ndjson'),
      token: z.string().min(1).optional().describe('HEC token (Authorization: Splunk <token>) or bearer token for ndjson.'),
      batch_size: z.number().int().min(1).max(10_000).default(500),
      gzip: z.boolean().default(true),
      timeout: duration().default('10s'),
      ca_file: z.string().min(1).optional(),
      index: z
        .string()
        .regex(/^[a-z0-9_][a-z0-9_-]{0,79}$/, { error: 'a Splunk index name: lower-case letters, digits, _ and -' })
        .optional()
        .describe("format: hec only: the Splunk index (default: the token's default index)."),
      fields: z
        .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/), z.string().max(256))
        .optional()
        .describe('format: hec only: indexed fields added to every event (e.g. {env: prod, dc: fra1}).'),
      ack: z
        .boolean()
        .default(false)
        .describe(
          'format: hec only: indexer acknowledgment (the token must have it enabled): a batch counts as delivered only once HEC says it was indexed (polled at /services/collector/ack), not when the POST is answered.',
        ),
    }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'type must be stdout, file, syslog or http' : undefined) },
);

const audit = z.strictObject({
  format: z
    .enum(['ecs', 'ocsf'])
    .default('ecs')
    .describe('ecs: Elastic Common Schema; ocsf: OCSF HTTP Activity (4002) / Authentication (3002).'),
  sinks: z
    .array(auditSink)
    .default([{ type: 'stdout' }])
    .describe('Every record goes to every sink.'),
  on_sink_failure: z
    .enum(['buffer', 'block'])
    .default('buffer')
    .describe('buffer: spool to disk and replay, never drop; block: refuse requests (503) when a sink cannot take a record.'),
  spool_dir: z
    .string()
    .min(1)
    .optional()
    .describe('Where records wait while a sink is down; default <tmp>/gatehouse-spool. One per process.'),
  queue_size: z.number().int().min(10).max(1_000_000).default(10_000).describe('Records held in memory per sink.'),
  spool_drain_rate: z
    .number()
    .int()
    .min(100)
    .max(1_000_000)
    .optional()
    .describe(
      'Spooled records delivered per second at most, per sink, when a sink is back (default 20000); batches are separated by an event-loop turn so requests keep flowing.',
    ),
  chain_key_file: z
    .string()
    .min(1)
    .optional()
    .describe(
      'File holding a secret of at least 32 bytes: the hash chain becomes HMAC-SHA256 with it, so whoever can write the audit trail but not read this file cannot rewrite records undetected (gatehouse audit-verify --key-file). Read at start; unset = an unkeyed chain (a warning).',
    ),
  worker_thread: z
    .boolean()
    .default(false)
    .describe(
      "Build, hash and deliver audit records in a worker thread, so the main thread only hands over each request's facts (docs/audit.md). Off by default: it costs more CPU in all, which only idle cores repay (on 2 CPUs it measured no faster than the event loop: 0.83-1.20x). Read at start.",
    ),
});

const PAT_DEFAULTS = {
  enabled: true,
  max_ttl: '90d',
  default_ttl: '30d',
  max_per_user: 20,
  create_rate: 10,
  recheck_groups: false,
};

const tokens = z.strictObject({
  pat: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe('Signed-in users may create personal access tokens at /.gatehouse/tokens (admins through /admin/tokens either way).'),
      max_ttl: duration().default('90d').describe('Longest lifetime a token may be given (at most 366d); no token lives for ever.'),
      default_ttl: duration().default('30d').describe('Lifetime when none is asked for (at most max_ttl).'),
      max_per_user: z.number().int().min(1).max(1000).default(20).describe('Live tokens one user may hold.'),
      create_rate: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(10)
        .describe('Tokens one user may create per hour (every replica counts together with a shared store); then 429.'),
      recheck_groups: z
        .boolean()
        .default(false)
        .describe(
          "Use the groups of the user's newest live session (refreshed from the IdP on its revalidation schedule) instead of those captured at creation, when the user has one.",
        ),
    })
    .default(PAT_DEFAULTS)
    .describe('Personal access tokens: `gatehouse_pat_…`, stored only as a SHA-256 hash, scoped to named routes, sent as a bearer token.'),
});

/** One Shared Signals transmitter (OpenID SSF): who may push Security Event Tokens, and how they are checked. */
const ssfTransmitter = z.strictObject({
  issuer: z.string().min(1).describe('The `iss` of its SETs, exactly (e.g. "https://corp.okta.com").'),
  jwks_url: httpUrl().describe('Its signing keys (JWKS); https, or http on a loopback host in dev mode.'),
  audience: z.string().min(1).describe('The `aud` its SETs must carry: what this receiver was registered as.'),
  subject: z
    .enum(['email', 'opaque', 'iss_sub'])
    .default('email')
    .describe(
      'How a SET names the user: email = the e-mail is the Gatehouse `user`; opaque = the opaque id is; iss_sub = the identity provider whose issuer is `iss` and its `sub` (its sessions end; `user` as that provider signs users in).',
    ),
  algorithms: z
    .array(z.enum(ASYMMETRIC_ALGS))
    .min(1)
    .optional()
    .describe('Signing algorithms accepted from it; default every asymmetric one (never "none" or HS*).'),
});

const ssf = z.strictObject({
  transmitters: z.array(ssfTransmitter).min(1).describe('Transmitters allowed to push events to POST /.gatehouse/ssf/events.'),
  max_age: duration().default('10m').describe('Oldest `iat` accepted (a push retried later than this is refused).'),
  max_body: z.number().int().min(1024).max(1_048_576).default(65_536).describe('Largest SET accepted, bytes.'),
  rate_per_minute: z.number().int().min(1).max(100_000).default(600).describe('Pushes accepted per client address per minute.'),
});

export const ConfigSchema = z
  .strictObject({
    log_level: logLevel.default('info').describe('Operational log level (JSON lines on stderr).'),
    watch: z.boolean().default(false).describe('Reload when the config file changes (also: SIGHUP, POST /admin/reload).'),
    server: server.describe('Public listener.'),
    admin: admin.default({ listen: '127.0.0.1:4181' }).describe('Admin listener.'),
    identity_providers: z.array(identityProvider).default([]).describe('Single sign-on providers.'),
    forward_auth: z
      .strictObject({
        headers: z
          .enum(['original_url', 'forwarded'])
          .describe(
            'Which headers describe the original request: original_url = X-Original-URL + X-Original-Method (nginx auth_request); forwarded = X-Forwarded-Method/Proto/Host/Uri (Traefik, Envoy). Only these are read.',
          ),
      })
      .optional()
      .describe('Enable GET /.gatehouse/auth for an ingress in server.trusted_proxies; off by default.'),
    ssf: ssf
      .optional()
      .describe('Shared Signals receiver (CAEP/RISC events pushed per RFC 8935 to POST /.gatehouse/ssf/events); off when absent.'),
    identity_headers: identityHeaders.default({}).describe('Names of the identity headers sent upstream; "" = not sent.'),
    username: z
      .strictObject({
        from: z
          .enum(['user', 'email', 'name'])
          .default('user')
          .describe(
            'Identity field the name is made from (map the IdP claim to it with claims/attributes, e.g. user: preferred_username).',
          ),
        max_length: z.number().int().min(1).max(256).default(32).describe('Longest name (useradd accepts 32).'),
      })
      .default({ from: 'user', max_length: 32 })
      .describe(
        'The identity_headers.username value: the local part of an e-mail, lower-cased, [a-z0-9_-] only, starting with a letter — a name LocalProcessSpawner, useradd and home directories accept.',
      ),
    assertion: z
      .strictObject({
        key_files: z
          .array(z.string().min(1))
          .min(1)
          .optional()
          .describe(
            'PEM private keys (PKCS#8, EC P-256); the first signs, all are published at /.gatehouse/jwks (rotation). Default: a key generated at start (single replica only).',
          ),
        ttl: duration().default('5m').describe('Lifetime of each assertion (at most 5m).'),
      })
      .default({ ttl: '5m' })
      .describe('The signed identity assertion (X-Gatehouse-Assertion).'),
    audit: audit
      .default({ format: 'ecs', sinks: [{ type: 'stdout' }], on_sink_failure: 'buffer', queue_size: 10_000, worker_thread: false })
      .describe('The audit trail.'),
    session: session
      .default({
        store: 'memory',
        cookie: { secure: true, same_site: 'lax' },
        idle_timeout: '30m',
        absolute_timeout: '12h',
        user_token_ttl: '10m',
      })
      .describe('Sessions: store, cookie, timeouts.'),
    tokens: tokens.default({ pat: PAT_DEFAULTS }).describe('Credentials Gatehouse issues itself.'),
    scim: z
      .strictObject({
        token: z
          .string()
          .min(32, { error: 'must be at least 32 characters' })
          .describe('Bearer token the IdP (Okta, Entra ID) sends to /.gatehouse/scim/v2/; use ${file:...}.'),
        groups: z
          .enum(['replace', 'merge'])
          .default('replace')
          .describe(
            'For users known to SCIM: replace = their SCIM groups replace the sign-in token groups (a removal applies on the next request); merge = the union of both.',
          ),
        user_key: z
          .enum(['email', 'userName', 'externalId'])
          .default('email')
          .describe(
            'Which SCIM attribute is the Gatehouse user value: email = the primary e-mail (else userName); match identity_providers[].claims.user / attributes.user.',
          ),
        max_body: byteSize().default('1MB').describe('Largest SCIM request body (413 beyond).'),
        rate_limit: z.number().int().min(0).default(1200).describe('SCIM requests per minute per replica (429 beyond); 0 = unlimited.'),
      })
      .optional()
      .describe('SCIM 2.0 provisioning at /.gatehouse/scim/v2/ (issue 19); unset = off.'),
    routes: z
      .array(route)
      .min(1, { error: 'at least one route is required' })
      .describe('Routes, matched by host then longest path prefix.'),
  })
  .describe('Gatehouse configuration');

export type RawConfig = z.output<typeof ConfigSchema>;
export type RawRoute = RawConfig['routes'][number];
export type RawSession = RawConfig['session'];
export type RawAudit = RawConfig['audit'];
export type RawOidcProvider = z.output<typeof oidcProvider>;
export type RawSamlProvider = z.output<typeof samlProvider>;
export type RawAllow = NonNullable<RawRoute['allow']>;
export type RawDeny = NonNullable<RawRoute['deny']>;
export type RawRule = NonNullable<RawRoute['rules']>[number];
export type RawSsf = NonNullable<RawConfig['ssf']>;

export const DURATION_PATTERN = DURATION;
