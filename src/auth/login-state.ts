// Pending sign-ins, kept server-side in the session store for 10 minutes and bound to the browser
// that started them by a short-lived cookie: the IdP round trip carries only an opaque `state`
// (SAML: RelayState), never the return URL or any secret.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CookieConfig } from '../config/types.ts';
import { cookieAttributes, readCookie, serializeCookie } from '../http/cookies.ts';
import { oneTimeName, type PendingLogins } from '../session/one-time.ts';
import { GatehouseError } from '../errors.ts';

export const LOGIN_TTL_MS = 10 * 60_000;

export interface PendingLogin {
  readonly idp: string;
  /** Where to go afterwards (already checked by return-url.ts; the `rd` query parameter). */
  readonly returnUrl: string;
  readonly redirectUri: string;
  readonly nonce?: string;
  readonly codeVerifier?: string;
  /** SAML AuthnRequest ID, for InResponseTo. */
  readonly requestId?: string;
  /** SHA-256 of the browser's login cookie. */
  readonly binding: string;
  readonly createdAt: number;
}

const hash = (s: string) => createHash('sha256').update(s).digest('base64url');
const storeName = (state: string) => oneTimeName('login', hash(state));

export interface LoginCookie {
  readonly name: string;
  /** The browser's login cookie value, or a new one with the Set-Cookie to send. */
  ensure(cookieHeader: string | undefined): { value: string; setCookie: string | undefined };
  read(cookieHeader: string | undefined): string | undefined;
  /** Set-Cookie value that deletes the login cookie (sent when a sign-in completes). */
  clear(): string;
}

export function createLoginCookie(session: CookieConfig): LoginCookie {
  const name = `${session.name}-login`;
  // SameSite=Lax whatever the session's (the IdP sends the browser back cross-site); host-only.
  const attrs = cookieAttributes({ secure: session.secure, sameSite: 'Lax', domain: undefined });
  // Gatehouse sets one host-only login cookie at Path=/: two well-formed values mean one was
  // planted (login CSRF), and the binding cannot tell which, so neither is trusted.
  const read = (header: string | undefined) => readCookie(header, name, (v) => /^[A-Za-z0-9_-]{43}$/.test(v));
  return {
    name,
    read,
    ensure(header) {
      // Reuse the cookie so sign-ins started in two tabs both stay valid.
      const existing = read(header);
      if (existing) return { value: existing, setCookie: undefined };
      const value = randomBytes(32).toString('base64url');
      return { value, setCookie: serializeCookie(name, value, attrs, LOGIN_TTL_MS) };
    },
    clear: () => serializeCookie(name, '', attrs, 0),
  };
}

/**
 * Sign-ins one browser may have pending at once: several tabs each start their own, but a page
 * that loops into sign-in (or a client that never sends the cookie back) cannot pile up records.
 */
export const MAX_PENDING_PER_BROWSER = 10;

/** 429 GH_TOO_MANY_LOGINS, with the wait to put in Retry-After. */
export class LoginLimitError extends GatehouseError {
  readonly retryAfterSec: number;

  constructor(message: string, retryAfterMs: number) {
    super('GH_TOO_MANY_LOGINS', message);
    this.name = 'LoginLimitError';
    this.retryAfterSec = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

/**
 * Remember a pending sign-in. At most `maxPending` are live in the store (every replica counted);
 * beyond, LoginLimitError. The browser's oldest goes beyond MAX_PENDING_PER_BROWSER.
 */
export async function savePendingLogin(
  store: PendingLogins,
  state: string,
  login: Omit<PendingLogin, 'binding' | 'createdAt'>,
  loginCookieValue: string,
  maxPending: number,
): Promise<void> {
  const binding = hash(loginCookieValue);
  const record: PendingLogin = { ...login, binding, createdAt: Date.now() };
  const put = await store.putPending(storeName(state), JSON.stringify(record), LOGIN_TTL_MS, {
    max: maxPending,
    owner: binding,
    perOwner: MAX_PENDING_PER_BROWSER,
  });
  if (!put.ok) throw new LoginLimitError('Too many sign-ins are in progress right now. Try again in a moment.', put.retryAfterMs);
}

export type TakeResult =
  /** `othersPending`: this browser has more sign-ins under way (other tabs): keep its cookie. */
  | { readonly ok: true; readonly login: PendingLogin; readonly othersPending: boolean }
  | { readonly ok: false; readonly reason: 'unknown-state' | 'other-browser' };

/**
 * A stored record. Records written before the field was named returnUrl call it `rd`: they are
 * still honoured for their 10 minutes after an upgrade.
 */
function fromStored(raw: string): PendingLogin {
  const stored = JSON.parse(raw) as PendingLogin & { readonly rd?: unknown };
  if (typeof stored.returnUrl === 'string' || typeof stored.rd !== 'string') return stored;
  const { rd, ...rest } = stored;
  return { ...rest, returnUrl: rd };
}

/** Consume the pending login for `state` (single use), checking it belongs to this browser. */
export async function takePendingLogin(store: PendingLogins, state: string, loginCookieValue: string | undefined): Promise<TakeResult> {
  const name = storeName(state);
  // Sign-ins started before pending values had their own bounded space were kept as ephemeral
  // values: still honoured for their 10 minutes after an upgrade.
  const taken = await store.takePending(name);
  const raw = taken?.value ?? (await store.take(name));
  if (raw === undefined) return { ok: false, reason: 'unknown-state' };
  const login = fromStored(raw);
  if (loginCookieValue === undefined) return { ok: false, reason: 'other-browser' };
  const a = Buffer.from(hash(loginCookieValue));
  const b = Buffer.from(login.binding);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'other-browser' };
  return { ok: true, login, othersPending: (taken?.ownerPending ?? 0) > 0 };
}
