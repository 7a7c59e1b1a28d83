// Cookie headers, read and written in one place: the session cookie (session/cookie.ts), the login
// binding cookie (auth/login-state.ts) and the stripping of both before the upstream
// (proxy/headers.ts) parse with the same function, so anything Gatehouse could take for its own
// cookie is also what it removes, and every Set-Cookie it sends carries the same attributes.

/** One pair of a Cookie header: `text` as sent (trimmed), `name` undefined for a nameless cookie. */
export interface CookiePair {
  readonly text: string;
  readonly name: string | undefined;
  readonly value: string;
}

/**
 * A Cookie header as its pairs. Browsers join pairs with "; " (RFC 6265bis §5.7.3): split on ";"
 * only, trim SP/HTAB, cut at the first "=". Quotes are ordinary bytes and "$Version" an ordinary
 * name: legacy RFC 2965 parsing, where a quoted value runs across ";", is what the cookie sandwich
 * (Kettle 2024) abuses. A pair without "=" is a nameless cookie (6265bis §5.6 keeps its text as the
 * value) and matches no name.
 */
export function parseCookieHeader(header: string): readonly CookiePair[] {
  // A proxied request's Cookie header is parsed twice, in one tick when its session is cached: the
  // session cookie read, then Gatehouse's cookies stripped before the upstream. The second time
  // (or the same header from the next request) gets the pairs already made.
  if (header === last.header) return last.pairs;
  const pairs = parsePairs(header);
  last = { header, pairs };
  return pairs;
}

let last: { readonly header: string; readonly pairs: readonly CookiePair[] } = { header: '', pairs: [] };

function parsePairs(header: string): readonly CookiePair[] {
  // By character codes, not split and regexes.
  const pairs: CookiePair[] = [];
  const len = header.length;
  for (let start = 0; start <= len; ) {
    let end = header.indexOf(';', start);
    if (end === -1) end = len;
    let s = start;
    let e = end;
    start = end + 1;
    while (s < e && isBlank(header.charCodeAt(s))) s++;
    while (e > s && isBlank(header.charCodeAt(e - 1))) e--;
    if (s === e) continue;
    const text = header.slice(s, e);
    let eq = s;
    while (eq < e && header.charCodeAt(eq) !== 61) eq++;
    if (eq === e) {
      pairs.push({ text, name: undefined, value: text });
      continue;
    }
    let nameEnd = eq;
    while (nameEnd > s && isBlank(header.charCodeAt(nameEnd - 1))) nameEnd--;
    let valueStart = eq + 1;
    while (valueStart < e && isBlank(header.charCodeAt(valueStart))) valueStart++;
    pairs.push({ text, name: header.slice(s, nameEnd), value: header.slice(valueStart, e) });
  }
  return pairs;
}

/** SP or HTAB: what is trimmed around pairs, names and values. */
function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Every value sent for exactly `name`, in order. Names compare case-sensitively, as browsers store
 * them: `__HOST-x` is another cookie, one a sibling host may have set.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined || !header.includes(name)) return [];
  const values: string[] = [];
  for (const p of parseCookieHeader(header)) if (p.name === name) values.push(p.value);
  return values;
}

/**
 * The one value of `name` that `accept` takes, or undefined. The same value sent twice is one
 * value; two different accepted values are none: whoever can set a cookie on a sibling host or
 * path can plant a second one, and nothing in the header says which is the real one.
 */
export function readCookie(header: string | undefined, name: string, accept: (value: string) => boolean = () => true): string | undefined {
  const values = new Set(cookieValues(header, name).filter(accept));
  return values.size === 1 ? values.values().next().value : undefined;
}

export interface CookieAttributes {
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict' | 'None';
  /** undefined: a host-only cookie (what a `__Host-` name demands). */
  readonly domain: string | undefined;
}

/**
 * The attributes after `name=value` of every Gatehouse cookie: Path=/ and HttpOnly always (no
 * script, on any path, may read a session or binding), Secure unless in dev mode, SameSite as
 * given, Domain only when configured.
 */
export function cookieAttributes(a: CookieAttributes): string {
  return `; Path=/; HttpOnly${a.secure ? '; Secure' : ''}; SameSite=${a.sameSite}${a.domain ? `; Domain=${a.domain}` : ''}`;
}

/** A Set-Cookie value: `value` (empty to delete) under `attributes` for whole seconds of `maxAgeMs` (0 deletes). */
export function serializeCookie(name: string, value: string, attributes: string, maxAgeMs: number): string {
  return `${name}=${value}${attributes}; Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}`;
}
