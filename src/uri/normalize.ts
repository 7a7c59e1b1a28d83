// Normalise a request path once, before routing and policy, and refuse ambiguous ones. The
// upstream receives the normalised form, so Gatehouse and the upstream see the same path.
//
// Refused (400): encoded "/" or "\" (%2F, %5C), raw "\", NUL (raw or %00), control characters,
// invalid or truncated percent-escapes, escapes that do not decode to valid UTF-8 (overlong
// "%C0%AF" etc.), dot segments that climb above the root, and anything not starting with "/".
// Normalised: percent-escapes of unreserved characters are decoded ("%61" → "a"), other escapes
// get upper-case hex, "." and ".." segments are resolved, repeated slashes collapse to one.
//
// It imports nothing and sits at the bottom of src/ (uri/): the request walk normalises targets with
// it, and config/ checks that route prefixes are written as requests will arrive.

export type NormalizeResult =
  | {
      readonly ok: true;
      readonly path: string;
      /**
       * The decoded path still holds an escape ("%252F" → "%2F"): an upstream or second proxy that
       * decodes again would see something else. Refused unless the route says
       * `unsafe_allow_encoded_escapes` (the pipeline decides, once the route is known).
       */
      readonly encodedEscape: boolean;
    }
  | { readonly ok: false; readonly reason: string };

// Fast path: nothing to decode or resolve. Most real requests take it. One character class and
// no nested repetition, so the match is linear in the path length (no catastrophic backtracking);
// empty and dot segments are ruled out by the two checks beside it.
const SIMPLE_CHARS = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
// Characters that may stay raw in a path segment (RFC 3986 pchar minus "%").
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const HEX = /^[0-9A-Fa-f]{2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Split a request target into path and query ("?..." or ""). */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q) };
}

export function normalizePath(path: string): NormalizeResult {
  if (SIMPLE_CHARS.test(path) && !path.includes('//') && !hasDotSegment(path)) return { ok: true, path, encodedEscape: false };
  if (path.charCodeAt(0) !== 47 /* / */) return fail('path must start with "/"');

  // Decode escapes into bytes so UTF-8 validity can be checked on the whole path.
  const out: string[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    const code = path.charCodeAt(i);
    if (ch === '%') {
      const hex = path.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return fail('invalid percent-encoding');
      const byte = parseInt(hex, 16);
      if (byte === 0) return fail('encoded NUL');
      if (byte === 0x2f || byte === 0x5c) return fail('encoded slash or backslash');
      if (byte < 0x20 || byte === 0x7f) return fail('encoded control character');
      bytes.push(byte);
      const c = String.fromCharCode(byte);
      out.push(byte < 0x80 && UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`);
      i += 2;
      continue;
    }
    if (code === 0) return fail('NUL in path');
    if (ch === '\\') return fail('backslash in path');
    if (code < 0x20 || code === 0x7f) return fail('control character in path');
    if (code > 0x7e) {
      // Raw non-ASCII (config files, lenient clients): encode the whole code point as UTF-8,
      // the way a browser would. A lone surrogate is not text at all.
      const cp = path.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) return fail('invalid character in path');
      const text = String.fromCodePoint(cp);
      for (const b of Buffer.from(text, 'utf8')) {
        out.push(`%${b.toString(16).toUpperCase()}`);
        bytes.push(b);
      }
      i += text.length - 1;
      continue;
    }
    if (ch === '/' || PCHAR.test(ch)) {
      out.push(ch);
      bytes.push(code);
      continue;
    }
    // Other ASCII (e.g. '"', '<', '`', '{', space from lenient parsers): percent-encode.
    out.push(`%${code.toString(16).toUpperCase().padStart(2, '0')}`);
    bytes.push(code);
  }
  let text: string;
  try {
    text = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return fail('escapes are not valid UTF-8');
  }
  if (bytes.some((b) => b > 0x7f) && foldsToSyntax(text))
    return fail('characters that Unicode folding (NFKC, "best fit") turns into path syntax');
  return resolveSegments(out.join(''), hasEscape(bytes));
}

/**
 * Fullwidth "／", "＼", "．．" or "％２Ｆ" are letters to us but "/", "\", ".." and "%2F" to an
 * upstream that folds compatibility forms (Python's NFKC, Windows "best fit": Orange Tsai,
 * "WorstFit", 2025). A path whose folded form has other separators, a dot segment or an escape
 * is ambiguous.
 */
function foldsToSyntax(text: string): boolean {
  const folded = text.normalize('NFKC');
  if (folded === text) return false;
  if (folded.includes('\\') || /%[0-9A-Fa-f]{2}/.test(folded)) return true;
  const before = text.split('/');
  const after = folded.split('/');
  if (before.length !== after.length) return true;
  return after.some((seg) => seg === '.' || seg === '..' || seg.startsWith('..;') || seg.startsWith('.;'));
}

/**
 * "%" followed by two hex digits in the decoded bytes — or "%u" and four (IIS and Jetty decode
 * "%u0061" as "a", CVE-2021-34429) — is an escape that survives one decoding.
 */
function hasEscape(bytes: readonly number[]): boolean {
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] !== 0x25) continue;
    if (isHexByte(bytes[i + 1]!) && isHexByte(bytes[i + 2]!)) return true;
    if ((bytes[i + 1] === 0x75 || bytes[i + 1] === 0x55) && i + 5 < bytes.length && [2, 3, 4, 5].every((k) => isHexByte(bytes[i + k]!)))
      return true;
  }
  return false;
}

function isHexByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

// A dot segment, also with ";params" after it ("/..;/admin" is ".." to Tomcat and Spring).
const DOT_SEGMENT = /\/\.\.?(?:[/;]|$)/;

function hasDotSegment(path: string): boolean {
  return path.includes('/.') && DOT_SEGMENT.test(path);
}

function resolveSegments(path: string, encodedEscape: boolean): NormalizeResult {
  const trailingSlash = path.length > 1 && (path.endsWith('/') || /\/\.\.?$/.test(path));
  const stack: string[] = [];
  for (const seg of path.split('/')) {
    // "..;x" is a dot segment to servlet containers but not to us: refuse rather than guess.
    if (seg.startsWith('.;') || seg.startsWith('..;')) return fail('dot segment with path parameters');
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0) return fail('dot segments escape the root');
      stack.pop();
      continue;
    }
    stack.push(seg);
  }
  if (stack.length === 0) return { ok: true, path: '/', encodedEscape };
  return { ok: true, path: `/${stack.join('/')}${trailingSlash ? '/' : ''}`, encodedEscape };
}

function fail(reason: string): NormalizeResult {
  return { ok: false, reason };
}
