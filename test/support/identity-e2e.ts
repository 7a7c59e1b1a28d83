// Shared by the policy and identity end-to-end suites (test/integration/forbidden-page,
// identity-headers, bearer, websocket-auth): a real sign-in through the demo IdP, and the headers
// an upstream received, read the way a WSGI/CGI upstream would read them.
import { expect } from 'vitest';
import { TestBrowser } from './browser-http.ts';
import { rawRequest } from './http.ts';
import { USERS } from './oidc.ts';
import type { StartedGatehouse } from './start-gatehouse.ts';
import type { SeenRequest } from './upstream.ts';

export const COOKIE = 'gatehouse';
export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';
/** What a real browser sends for a top-level page load. */
export const NAV = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'user-agent': 'Mozilla/5.0 (policy-identity test)',
};

/** Sign `user` in through the real demo IdP, starting at `start`; returns the session cookie value. */
export async function signIn(gh: StartedGatehouse, user: keyof typeof USERS, start = '/'): Promise<string> {
  const browser = new TestBrowser();
  const page = await browser.go(`${gh.url}${start}`, USERS[user]);
  expect(page.status, page.body).toBe(200);
  const cookie = browser.jar.get(gh.url, COOKIE);
  expect(cookie).toBeDefined();
  return cookie!;
}

/** The upstream's raw header pairs, exactly as they arrived (no joining, original case). */
export function pairs(s: SeenRequest): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < s.rawHeaders.length; i += 2) out.push([s.rawHeaders[i]!, s.rawHeaders[i + 1]!]);
  return out;
}

/** Header name as a WSGI/CGI upstream reads it: case-insensitive, "_" = "-". */
export const norm = (name: string) => name.toLowerCase().replace(/_/g, '-');

/** Every raw value the upstream received under `name` (any case or underscore spelling). */
export function valuesNamed(s: SeenRequest, name: string): string[] {
  return pairs(s)
    .filter(([n]) => norm(n) === name)
    .map(([, v]) => v);
}

/** No header at the upstream carries the forged value, alone or inside a joined list. */
export function expectNoForged(s: SeenRequest, forged: string): void {
  for (const [n, v] of pairs(s)) {
    expect(
      v.split(',').map((x) => x.trim()),
      `${n}: ${v} reached the upstream`,
    ).not.toContain(forged);
  }
}

export function seenAt(seen: readonly SeenRequest[], url: string): SeenRequest {
  const hit = seen.find((s) => s.url === url);
  expect(hit, `upstream never saw ${url}`).toBeDefined();
  return hit!;
}

export function rawGet(gh: StartedGatehouse, path: string, lines: readonly string[]) {
  return rawRequest(gh.url, [`GET ${path} HTTP/1.1`, `host: ${new URL(gh.url).host}`, 'accept: application/json', ...lines].join('\r\n'));
}
