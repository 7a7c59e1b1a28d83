// An upstream for path-confusion tests that models how common servers read a request path. For
// every request it receives it records the exact request target and, for each upstream model
// below, the path that model would serve (its "effective path"): what Node/Go see after one
// decoding, what a second decoding proxy sees, what Tomcat, IIS, Spring or Express make of it...
// A test then asks whether the identity Gatehouse let through may reach each of those paths.
//
//   const up = await startDecodingUpstream();
//   // ... route Gatehouse to up.url, send a request carrying `x-case-id: 7` ...
//   up.byCase('7')?.effective['decode-twice']
//
// Every request gets 200 JSON { upstream: 'decoding', caseId, target }. Loopback only; closed
// when the test (or suite, with `autoClose: false` and close()) finishes.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { onTestFinished } from 'vitest';

export interface UpstreamModel {
  readonly name: string;
  /** Which servers read paths this way (for failure messages and the report). */
  readonly servers: string;
  /** The model compares paths ignoring case (it applies only where a route says the upstream does). */
  readonly foldsCase: boolean;
  /** Path (request target without the query) → the path this kind of upstream serves. */
  readonly effective: (rawPath: string) => string;
}

// ---- building blocks, each a pure string → string step ----

interface DecodeOptions {
  /** IIS and Jetty (before 9.4.43) also decode "%uXXXX". */
  readonly percentU?: boolean;
  /** Accept overlong UTF-8 ("%C0%AE" = "."), as old IIS and Tomcat did. */
  readonly overlong?: boolean;
}

/** Percent-decode once; malformed escapes stay literal; bytes read as UTF-8 (invalid → U+FFFD). */
export function percentDecode(s: string, o: DecodeOptions = {}): string {
  const bytes: number[] = [];
  let out = '';
  const flush = () => {
    if (bytes.length === 0) return;
    out += decodeUtf8(bytes, o.overlong === true);
    bytes.length = 0;
  };
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '%') {
      if (o.percentU && (s[i + 1] === 'u' || s[i + 1] === 'U') && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
        flush();
        out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
        i += 5;
        continue;
      }
      const hex = s.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
    }
    flush();
    out += ch;
  }
  flush();
  return out;
}

/** UTF-8 bytes → text; with `overlong`, 2- and 3-byte overlong forms decode to their code point. */
function decodeUtf8(bytes: readonly number[], overlong: boolean): string {
  if (!overlong) return Buffer.from(bytes).toString('utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const c1 = bytes[i + 1];
    const c2 = bytes[i + 2];
    const cont = (x: number | undefined) => x !== undefined && (x & 0xc0) === 0x80;
    if ((b & 0xe0) === 0xc0 && cont(c1)) {
      out += String.fromCodePoint(((b & 0x1f) << 6) | (c1! & 0x3f));
      i += 1;
    } else if ((b & 0xf0) === 0xe0 && cont(c1) && cont(c2)) {
      out += String.fromCodePoint(((b & 0x0f) << 12) | ((c1! & 0x3f) << 6) | (c2! & 0x3f));
      i += 2;
    } else {
      out += Buffer.from([b]).toString('latin1');
    }
  }
  return out;
}

/** Collapse "//" and resolve "." and ".." segments (RFC 3986 §5.2.4), never above the root. */
export function resolveDots(p: string): string {
  const trailing = p.length > 1 && (p.endsWith('/') || /\/\.\.?$/.test(p));
  const stack: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') stack.pop();
    else stack.push(seg);
  }
  return stack.length === 0 ? '/' : `/${stack.join('/')}${trailing ? '/' : ''}`;
}

const mapSegments = (p: string, f: (seg: string) => string) => p.split('/').map(f).join('/');

/** Tomcat, Jetty, Spring: ";params" removed from every segment (also "..;" → ".."). */
export const stripParams = (p: string) => mapSegments(p, (s) => (s.includes(';') ? s.slice(0, s.indexOf(';')) : s));

/** `s` without the characters at either end for which `drop` holds (a loop: no regex backtracking). */
function trimWhile(s: string, drop: (code: number) => boolean, start: boolean): string {
  let a = 0;
  let b = s.length;
  while (start && a < b && drop(s.charCodeAt(a))) a++;
  while (b > a && drop(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** Windows / IIS: trailing dots and spaces of each segment are not part of the name. */
export const trimDotsAndSpaces = (p: string) => resolveDots(mapSegments(p, (s) => trimWhile(s, (c) => c === 46 || c === 32, false)));

/**
 * Spring's AntPathMatcher with trimTokens (default before 4.3, CVE-2016-5007): each segment is
 * trimmed with Java's String.trim() (characters up to U+0020, not Unicode spaces) and empty
 * segments are ignored; no dot-segment resolution happens after that.
 */
export function trimWhitespace(p: string): string {
  const segs = p
    .split('/')
    .map((s) => trimWhile(s, (c) => c <= 0x20, true))
    .filter((s) => s !== '');
  return `/${segs.join('/')}${p.length > 1 && p.endsWith('/') && segs.length > 0 ? '/' : ''}`;
}

export const backslashToSlash = (p: string) => p.replaceAll('\\', '/');

export const asciiLower = (p: string) => p.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/**
 * Case-insensitive comparison the way Java's equalsIgnoreCase, .NET's OrdinalIgnoreCase and the
 * NTFS $UpCase table see it: each character upper-cased then lower-cased one for one, so the
 * dotless "ı" (U+0131) and long "ſ" (U+017F) become "i" and "s", the Kelvin sign "k".
 */
export function unicodeFold(p: string): string {
  let out = '';
  for (const ch of p) {
    const up = ch.toUpperCase();
    const u = [...up].length === 1 ? up : ch;
    const low = u.toLowerCase();
    out += [...low].length === 1 ? low : u;
  }
  return out;
}

/** Express 4's router (strict: false): one trailing slash is optional. */
const dropTrailingSlash = (p: string) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);

// ---- the models ----

export const UPSTREAM_MODELS: readonly UpstreamModel[] = [
  {
    name: 'literal',
    servers: 'routers matching the undecoded path (Express route table, nginx with a literal $request_uri map)',
    foldsCase: false,
    effective: (p) => resolveDots(p),
  },
  {
    name: 'decode-once',
    servers: 'Node URL / Go net/http ServeMux / Python WSGI PATH_INFO',
    foldsCase: false,
    effective: (p) => resolveDots(percentDecode(p)),
  },
  {
    name: 'decode-twice',
    servers: 'a second decoding proxy in front, PHP stacks that urldecode PATH_INFO again',
    foldsCase: false,
    effective: (p) => resolveDots(percentDecode(percentDecode(p))),
  },
  {
    name: 'case-insensitive',
    servers: 'Express (caseSensitive: false), ASP.NET Core routing, IIS (ASCII folding)',
    foldsCase: true,
    effective: (p) => asciiLower(resolveDots(percentDecode(p))),
  },
  {
    name: 'case-insensitive-unicode',
    servers: 'NTFS $UpCase (IIS static files), Java equalsIgnoreCase, .NET OrdinalIgnoreCase',
    foldsCase: true,
    effective: (p) => unicodeFold(resolveDots(percentDecode(p))),
  },
  {
    name: 'path-params',
    servers: 'Tomcat / Jetty / Spring: ;params stripped per segment before decoding',
    foldsCase: false,
    effective: (p) => resolveDots(percentDecode(stripParams(p))),
  },
  {
    name: 'path-params-after-decoding',
    servers: "containers that strip ;params after decoding (why Spring Security's StrictHttpFirewall refuses %3B)",
    foldsCase: false,
    effective: (p) => resolveDots(stripParams(percentDecode(p))),
  },
  {
    name: 'trailing-dots-spaces',
    servers: 'IIS / Windows file names',
    foldsCase: false,
    effective: (p) => trimDotsAndSpaces(resolveDots(percentDecode(p))),
  },
  {
    name: 'nfkc',
    servers: 'NFKC-normalising frameworks, Windows best-fit ("ａ" → "a")',
    foldsCase: false,
    effective: (p) => resolveDots(percentDecode(p).normalize('NFKC')),
  },
  {
    name: 'backslash',
    servers: 'IIS, Windows paths: "\\" is a separator',
    foldsCase: false,
    effective: (p) => resolveDots(backslashToSlash(percentDecode(p))),
  },
  {
    name: 'percent-u',
    servers: 'IIS, Jetty < 9.4.43 (CVE-2021-34429): %uXXXX decoded',
    foldsCase: false,
    effective: (p) => resolveDots(percentDecode(p, { percentU: true })),
  },
  {
    name: 'spring-legacy',
    servers: 'Tomcat + Spring MVC <= 4.2 (CVE-2016-5007): ;params, decode, trimmed segments, trailing slash ignored',
    foldsCase: false,
    effective: (p) => dropTrailingSlash(trimWhitespace(resolveDots(percentDecode(stripParams(p))))),
  },
  {
    name: 'express',
    servers: 'Express 4 default router: undecoded path, case-insensitive, trailing slash optional',
    foldsCase: true,
    effective: (p) => dropTrailingSlash(asciiLower(resolveDots(p))),
  },
  {
    name: 'iis',
    servers: 'IIS serving files: %u and overlong UTF-8 decoded, "\\" as "/", best-fit, NTFS case folding, trailing dots/spaces',
    foldsCase: true,
    effective: (p) => iis(p),
  },
  {
    name: 'proxy-then-iis',
    servers: 'a decoding proxy in front of IIS',
    foldsCase: true,
    effective: (p) => iis(percentDecode(p)),
  },
];

function iis(p: string): string {
  // http.sys decodes and resolves the URL; the file system layer then sees best-fit characters
  // (resolving the "．．" and "＼" they produce again) and folds case, then trims names.
  const decoded = resolveDots(backslashToSlash(percentDecode(p, { percentU: true, overlong: true })));
  return trimDotsAndSpaces(unicodeFold(resolveDots(backslashToSlash(decoded.normalize('NFKC')))));
}

/** The effective path of `target` (query removed) under every model. */
export function effectivePaths(target: string): Record<string, string> {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const out: Record<string, string> = {};
  for (const m of UPSTREAM_MODELS) out[m.name] = m.effective(path);
  return out;
}

// ---- the server ----

export interface DecodedRequest {
  readonly caseId: string | undefined;
  readonly method: string;
  /** The request target exactly as received. */
  readonly target: string;
  readonly headers: IncomingMessage['headers'];
  /** Model name → effective path. */
  readonly effective: Readonly<Record<string, string>>;
}

export interface DecodingUpstream {
  readonly url: string;
  readonly requests: readonly DecodedRequest[];
  /** The last request that carried `x-case-id: <id>`. */
  byCase(id: string): DecodedRequest | undefined;
  close(): Promise<void>;
}

export async function startDecodingUpstream(options: { autoClose?: boolean } = {}): Promise<DecodingUpstream> {
  const requests: DecodedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const caseId = typeof req.headers['x-case-id'] === 'string' ? req.headers['x-case-id'] : undefined;
    const target = req.url ?? '';
    requests.push({ caseId, method: req.method ?? '', target, headers: req.headers, effective: effectivePaths(target) });
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ upstream: 'decoding', caseId, target });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  if (options.autoClose !== false) onTestFinished(close);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    byCase: (id) => requests.findLast((r) => r.caseId === id),
    close,
  };
}
