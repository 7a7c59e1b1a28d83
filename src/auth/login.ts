// /.gatehouse/login?rd=<return URL>&idp=<id>: pick the identity provider (the one named, the only
// one allowed for the target route, or let the user choose on a small page) and start sign-in.
import { GatehouseError } from '../errors.ts';
import type { Config } from '../config/types.ts';
import type { RouteTable } from '../route/table.ts';
import type { PendingLogins } from '../session/one-time.ts';
import type { IdentityProviders } from './providers.ts';
import type { Exchange } from '../http/exchange.ts';
import { LOGIN_PATH } from '../http/endpoints.ts';
import { escapeHtml, renderPage } from '../http/pages.ts';
import { sendBody } from '../http/respond.ts';
import { policyReadings } from '../route/canonical.ts';
import { normalizePath } from '../uri/normalize.ts';
import { LoginLimitError } from './login-state.ts';

export interface LoginDeps {
  readonly config: Config;
  readonly routes: RouteTable;
  readonly providers: IdentityProviders;
  readonly store: PendingLogins;
}

export async function handleLogin(ex: Exchange, rt: LoginDeps): Promise<void> {
  const params = new URLSearchParams(ex.query.slice(1));
  const providers = rt.providers;
  const returnUrl = providers.auth.checkReturnUrl(params.get('rd'));
  const allowed = allowedProviders(rt, ex, returnUrl);
  if (allowed.length === 0)
    throw new GatehouseError('GH_NOT_FOUND', 'Sign-in is not available: no identity provider is configured for this application.');
  const wanted = params.get('idp');
  let id: string;
  if (wanted !== null) {
    if (!allowed.some((p) => p.id === wanted))
      throw new GatehouseError('GH_BAD_REQUEST', `Unknown identity provider "${wanted}" for this application.`);
    id = wanted;
  } else if (allowed.length === 1) {
    id = allowed[0]!.id;
  } else {
    sendChooser(ex, allowed, returnUrl);
    return;
  }
  const provider = providers.byId.get(id);
  if (!provider) throw new GatehouseError('GH_BAD_REQUEST', `Identity provider "${id}" cannot start a sign-in here.`);
  try {
    // Before any work (a signed AuthnRequest costs a private-key operation) or any write.
    admitClient(rt.store, rt.config.session.login.ratePerMinute, ex.client.ip);
    await provider.startLogin(ex, returnUrl);
  } catch (err) {
    // Headers set here are merged into the error response sendError writes.
    if (err instanceof LoginLimitError) ex.res?.setHeader('retry-after', String(err.retryAfterSec));
    throw err;
  }
}

/**
 * Per-client token buckets for starting sign-ins: `ratePerMinute` tokens, refilled continuously.
 * In process memory and bounded (least recently used forgotten first: a forgotten bucket is a
 * full one), so with several replicas a client may get up to one allowance per replica; the
 * store's global bound (max_pending) holds across all of them.
 */
export interface LoginRateLimiter {
  readonly ratePerMinute: number;
  /** 0 when `ip` may start a sign-in now (a token is taken), else ms until it may. */
  take(ip: string, now: number): number;
}

const MAX_TRACKED_CLIENTS = 10_000;

export function createLoginRateLimiter(ratePerMinute: number, maxClients = MAX_TRACKED_CLIENTS): LoginRateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const perMs = ratePerMinute / 60_000;
  return {
    ratePerMinute,
    take(ip, now) {
      if (ratePerMinute === 0) return 0;
      const key = clientKey(ip);
      const b = buckets.get(key);
      let tokens = ratePerMinute;
      if (b) {
        tokens = Math.min(ratePerMinute, b.tokens + (now - b.at) * perMs);
        buckets.delete(key);
      } else if (buckets.size >= maxClients) {
        buckets.delete(buckets.keys().next().value!);
      }
      if (tokens < 1) {
        buckets.set(key, { tokens, at: now });
        return Math.max(1, Math.ceil((1 - tokens) / perMs));
      }
      buckets.set(key, { tokens: tokens - 1, at: now });
      return 0;
    },
  };
}

/**
 * One bucket per IPv4 address, or per IPv6 /64: a single IPv6 host is routinely handed a whole
 * /64, so counting addresses would let it start sign-ins without limit.
 */
export function clientKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

// The limiter belongs to the store it protects: it lives as long as that store (reloads that keep
// the session settings keep both) and is replaced with it.
const limiters = new WeakMap<PendingLogins, LoginRateLimiter>();

function admitClient(store: PendingLogins, ratePerMinute: number, ip: string): void {
  let limiter = limiters.get(store);
  if (!limiter || limiter.ratePerMinute !== ratePerMinute) limiters.set(store, (limiter = createLoginRateLimiter(ratePerMinute)));
  const waitMs = limiter.take(ip, Date.now());
  if (waitMs > 0) throw new LoginLimitError('Too many sign-ins were started from your address. Wait a moment, then try again.', waitMs);
}

/** Providers the route behind `returnUrl` accepts (route `idps:`), in config order. */
function allowedProviders(rt: LoginDeps, ex: Exchange, returnUrl: string): readonly { id: string; displayName: string }[] {
  // returnUrl was checked (return-url.ts): a path here, or a URL on a served origin.
  const u = new URL(returnUrl, 'http://placeholder.invalid');
  const host = returnUrl.startsWith('/') ? ex.host : u.hostname;
  const normalised = normalizePath(u.pathname);
  const found = normalised.ok ? rt.routes.matchReadings(host, policyReadings(normalised.path)) : undefined;
  const route = (found === 'ambiguous' ? undefined : found) ?? ex.route;
  const only = route?.idps;
  return only ? rt.providers.list.filter((p) => only.includes(p.id)) : rt.providers.list;
}

function sendChooser(ex: Exchange, providers: readonly { id: string; displayName: string }[], returnUrl: string): void {
  const links = providers
    .map(
      (p) =>
        `<li><a class="idp" href="${LOGIN_PATH}?idp=${encodeURIComponent(p.id)}&amp;rd=${encodeURIComponent(returnUrl)}">${escapeHtml(p.displayName)}</a></li>`,
    )
    .join('\n');
  sendBody(ex, 200, 'text/html; charset=utf-8', renderPage('Sign in', `<p>Choose how to sign in:</p>\n<ul>${links}</ul>`));
}
