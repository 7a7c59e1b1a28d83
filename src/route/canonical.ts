// The one path that routing, rules and api_paths judge: the normalised path (normalize.ts) as the
// upstreams we front may read it. Upstreams differ — Tomcat and Spring drop ";params", IIS and
// Windows drop trailing dots and spaces of a segment, Express/IIS/ASP.NET ignore case, some
// frameworks fold Unicode compatibility forms (NFKC, Windows "best fit") — so the policy path
// removes every such difference at once: whatever spelling one of them serves as "/admin" is
// "/admin" here too. Folding comes first, so a fullwidth "．" or "；" is stripped like "." or ";";
// normalize.ts has already refused folds that would make a "/", "\" or a dot segment.
// Case folding is left to the caller (per route: `case_insensitive_paths`).
//
// Linear in the path length: one pass over the segments, no regular expressions that backtrack.

/** Canonical policy path of an already-normalised path (starts with "/", no dot segments). */
export function policyPath(path: string): string {
  if (isPlain(path)) return path;
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    let seg = segments[i]!;
    const semi = seg.indexOf(';');
    if (semi !== -1) seg = seg.slice(0, semi);
    if (seg.includes('%')) seg = decodeSegment(seg);
    if (hasNonAscii(seg)) {
      seg = seg.normalize('NFKC');
      const folded = seg.indexOf(';');
      if (folded !== -1) seg = seg.slice(0, folded);
    }
    let end = seg.length;
    while (end > 0 && (seg.charCodeAt(end - 1) === 46 /* . */ || seg.charCodeAt(end - 1) === 32 /* space */)) end--;
    seg = seg.slice(0, end);
    // An emptied segment ("/a/.../b", "/a;x/b" stays "/a/b") is no segment at all, except a
    // trailing one, which keeps the trailing slash.
    if (seg === '' && i !== segments.length - 1) continue;
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}

/** True when nothing in the path changes under policyPath (the common case: a quick scan). */
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
    // normalize.ts refused invalid escapes; a literal "%" left by unsafe_allow_encoded_escapes stays.
    return seg;
  }
}
