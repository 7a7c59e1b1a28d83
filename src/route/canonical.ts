// The paths that routing, rules and api_paths judge. The upstream receives the normalised path
// (uri/normalize.ts), but upstreams read it differently: Tomcat and Spring drop ";params", IIS and
// Windows drop trailing dots and spaces of a segment (Spring trims leading spaces too), some
// frameworks fold Unicode compatibility forms (NFKC, Windows "best fit"), Express/IIS/ASP.NET
// ignore case. Each *reading* is the decoded path under one combination of those habits; the
// pipeline selects a route only if every reading selects the same one and lets a request through
// only if the policy allows every reading — so no spelling can pick a laxer route or rule than
// some upstream's reading of it deserves, and a public rule on "/health" does not open
// "/health;x" to an upstream that serves that as another resource.
// Case folding is left to the consumers, per route (`case_insensitive_paths`), through foldCase.
//
// Linear in the path length for each reading; at most 8 readings, and one for plain paths.

const PARAMS = 1; // drop ";..." of each segment (after decoding: "%3B" too)
const TRIM = 2; // trim spaces at both ends and dots at the end of each segment
const NFKC = 4; // fold compatibility forms ("ａ" → "a", "．" → ".") before the rest
const ALL = PARAMS | TRIM | NFKC;

/** The reading with every habit applied: what rule patterns are canonicalised to. */
export function policyPath(path: string): string {
  return isPlain(path) ? path : reading(path, ALL);
}

/**
 * Every distinct reading of a normalised path, the canonical one (policyPath) first. A plain path
 * (no escapes, ";", non-ASCII, or dots or spaces at segment ends) has exactly one.
 */
export function policyReadings(path: string): readonly string[] {
  if (isPlain(path)) return [path];
  const seen = new Set<string>([reading(path, ALL)]);
  for (let mask = 0; mask < ALL; mask++) seen.add(reading(path, mask));
  return [...seen];
}

/**
 * Case folding for case-insensitive matching: lower case, and for non-ASCII upper then lower, so
 * characters that upper-case to ASCII ("ı" → "I", "ſ" → "S") meet the ASCII letter as they do in
 * upstreams that compare upper-cased (Gracey, "Hacking GitHub with Unicode's dotless i", 2019).
 */
export function foldCase(s: string): string {
  return hasNonAscii(s) ? s.toUpperCase().toLowerCase() : s.toLowerCase();
}

function reading(path: string, mask: number): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    let seg = segments[i]!;
    if (seg.includes('%')) seg = decodeSegment(seg);
    if (mask & NFKC && hasNonAscii(seg)) seg = seg.normalize('NFKC');
    if (mask & PARAMS) {
      const semi = seg.indexOf(';');
      if (semi !== -1) seg = seg.slice(0, semi);
    }
    if (mask & TRIM) seg = trimSegment(seg);
    // A segment emptied by a habit ("/a/.../b", "/;x/b") is no segment to that upstream, except a
    // trailing one, which keeps the trailing slash.
    if (seg === '' && i !== segments.length - 1) continue;
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

function trimSegment(seg: string): string {
  let start = 0;
  let end = seg.length;
  while (start < end && seg.charCodeAt(start) === 32 /* space */) start++;
  while (end > start && (seg.charCodeAt(end - 1) === 46 /* . */ || seg.charCodeAt(end - 1) === 32)) end--;
  return seg.slice(start, end);
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}

/** True when every reading of the path is the path itself (the common case: one quick scan). */
function isPlain(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 59 /* ; */ || c === 37 /* % */ || c > 0x7f) return false;
    if ((c === 46 /* . */ || c === 32) && (i + 1 === path.length || path.charCodeAt(i + 1) === 47)) return false;
  }
  return true;
}

function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    // uri/normalize.ts refused invalid escapes; a literal "%" left by unsafe_allow_encoded_escapes stays.
    return seg;
  }
}
