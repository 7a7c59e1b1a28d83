// The one declaration of the config file's shape: keys, defaults and per-key docs. The raw types
// derive from it, config/gatehouse.schema.json is generated from it (npm run schema), and
// compile.ts turns a parsed file into the frozen runtime Config. Shape checks live here;
// cross-key checks (duplicate names, dev mode) live in compile.ts.
import { z } from 'zod';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HOST_PATTERN = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

export const duration = () =>
  z.string().regex(DURATION, { error: 'must be a duration like "30s", "15m" or "12h"' });

const listen = () =>
  z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/, { error: 'must be "host:port", e.g. "0.0.0.0:4180" or "[::1]:4180"' });

const httpUrl = () =>
  z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { error: 'not a URL (expected http:// or https://)' });

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Who may pass. Issue #5 adds users/emails/deny/rules; today: public, or sign-in required. */
const allow = z.strictObject({
  public: z.boolean().optional().describe('Anyone, signed in or not.'),
  authenticated: z.boolean().optional().describe('Any signed-in user.'),
  groups: z.array(z.string().min(1)).optional().describe('Signed-in users in any of these groups.'),
  users: z.array(z.string().min(1)).optional().describe('These users (the identity `user` value).'),
  emails: z.array(z.string().min(1)).optional().describe('These e-mail addresses.'),
  email_domains: z.array(z.string().min(1)).optional().describe('Users whose e-mail is in one of these domains.'),
});

const route = z.strictObject({
  name: z.string().regex(ROUTE_NAME, { error: 'must be 1-63 letters, digits, ".", "_" or "-"' })
    .describe('Unique route name, used in metrics, logs and audit records.'),
  host: z.string().regex(HOST_PATTERN, { error: 'must be a host name like "mlflow.corp.example" or "*.corp.example"' }).optional()
    .describe('Exact host or "*.suffix" wildcard; omitted = any host.'),
  path: z.string().startsWith('/', { error: 'must start with "/"' }).default('/')
    .describe('Path prefix, matched on whole segments ("/api" matches "/api/x", not "/apix").'),
  upstream: httpUrl().describe('Where matching requests go, e.g. "http://127.0.0.1:5000".'),
  timeout: duration().default('30s').describe('How long to wait for the upstream to start answering (then 504).'),
  preserve_host: z.boolean().default(false).describe('Send the client\'s Host header upstream instead of the upstream\'s own host.'),
  allow: allow.optional().describe('Who may use the route. Omitted = nobody (default deny).'),
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
  shutdown_timeout: duration().default('10s').describe('How long SIGTERM waits for in-flight requests before closing them.'),
});

const admin = z.strictObject({
  listen: listen().default('127.0.0.1:4181').describe('Admin listener: /healthz, /readyz, /metrics, /admin/*.'),
  token: z.string().min(16, { error: 'must be at least 16 characters' }).optional().describe('Bearer token for /admin/*; unset = /admin/* refused.'),
});

export const ConfigSchema = z.strictObject({
  log_level: logLevel.default('info').describe('Operational log level (JSON to stdout).'),
  server: server.describe('Public listener.'),
  admin: admin.default({ listen: '127.0.0.1:4181' }).describe('Admin listener.'),
  routes: z.array(route).min(1, { error: 'at least one route is required' }).describe('Routes, matched by host then longest path prefix.'),
}).describe('Gatehouse configuration');

export type RawConfig = z.output<typeof ConfigSchema>;
export type RawRoute = RawConfig['routes'][number];
export type RawAllow = NonNullable<RawRoute['allow']>;

export const DURATION_PATTERN = DURATION;
