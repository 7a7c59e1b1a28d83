// A scripted "browser" over HTTP for sign-in flows: a cookie jar (by host name, like a browser:
// cookies ignore ports), manual redirects, and the demo IdP's login form filled in when it shows.
import { request } from 'undici';

export interface Hop {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly location: string | undefined;
  readonly setCookies: string[];
}

export interface Page {
  readonly url: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly hops: Hop[];
}

export class CookieJar {
  readonly cookies = new Map<string, Map<string, string>>();

  store(url: string, setCookies: string[]): void {
    const host = new URL(url).hostname;
    let jar = this.cookies.get(host);
    if (!jar) this.cookies.set(host, (jar = new Map()));
    for (const sc of setCookies) {
      const [pair = '', ...attrs] = sc.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim().toLowerCase()).find((a) => a.startsWith('max-age='));
      if (value === '' || maxAge === 'max-age=0') jar.delete(name);
      else jar.set(name, value);
    }
  }

  header(url: string): string | undefined {
    const jar = this.cookies.get(new URL(url).hostname);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(url: string, name: string): string | undefined {
    return this.cookies.get(new URL(url).hostname)?.get(name);
  }
}

const NAV = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'user-agent': 'gatehouse-test-browser' };

export class TestBrowser {
  readonly jar = new CookieJar();

  /** One request, no redirect following. */
  async fetch(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Page & { location: string | undefined }> {
    const cookie = this.jar.header(url);
    const res = await request(url, {
      method: (init.method ?? 'GET') as 'GET',
      headers: {
        ...NAV,
        ...(cookie ? { cookie } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...init.headers,
      },
      body: init.body,
    });
    const body = await res.body.text();
    const sc = res.headers['set-cookie'];
    const setCookies = sc === undefined ? [] : Array.isArray(sc) ? sc : [sc];
    this.jar.store(url, setCookies);
    const loc = res.headers.location;
    const location = typeof loc === 'string' ? new URL(loc, url).href : undefined;
    return {
      url,
      status: res.statusCode,
      headers: res.headers,
      body,
      hops: [{ method: init.method ?? 'GET', url, status: res.statusCode, location, setCookies }],
      location,
    };
  }

  /**
   * Follow redirects from `url` (at most 20), filling the demo IdP's login form with `user` when
   * it appears. Stops at the first non-redirect that is not the login form, or before fetching a
   * URL for which `stopBefore` returns true.
   */
  async go(url: string, user?: { username: string; password: string }, stopBefore?: (url: string) => boolean): Promise<Page> {
    const hops: Hop[] = [];
    let next: { url: string; method: string; body?: string } | undefined = { url, method: 'GET' };
    let last: (Page & { location: string | undefined }) | undefined;
    for (let i = 0; i < 20 && next; i++) {
      if (stopBefore?.(next.url)) return { ...(last ?? { url, status: 0, headers: {}, body: '', hops: [] }), url: next.url, hops };
      last = await this.fetch(next.url, { method: next.method, ...(next.body !== undefined ? { body: next.body } : {}) });
      hops.push(...last.hops);
      if (last.location && last.status >= 300 && last.status < 400) {
        next = { url: last.location, method: 'GET' };
        continue;
      }
      const form = /<form method="post" action="([^"]+)">[\s\S]*name="username"/.exec(last.body);
      if (form && user && last.status === 200) {
        const action: string = new URL(form[1]!.replace(/&amp;/g, '&'), next.url).href;
        next = { url: action, method: 'POST', body: new URLSearchParams({ username: user.username, password: user.password }).toString() };
        continue;
      }
      next = undefined;
    }
    return { ...last!, hops };
  }
}
