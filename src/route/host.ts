// The Host a request names (Host header, or X-Forwarded-Host from a trusted proxy), parsed
// strictly: routing, redirects and X-Forwarded-Host are built from it, so anything a DNS name,
// IPv4 or bracketed IPv6 address with an optional port could not be is refused rather than guessed
// at. Refused: userinfo ("a@host"), percent-escapes, "..", empty labels, a trailing dot, spaces,
// more than one value, ports outside 1-65535. Upper case is folded; the result is canonical, so
// comparing two parsed hosts as strings is comparing the authorities.
import { isIPv6 } from 'node:net';

export type ParsedHost =
  | {
      readonly ok: true /** lower-case, no port; IPv6 in brackets */;
      readonly host: string;
      readonly port: number | undefined /** host[:port] */;
      readonly authority: string;
    }
  | { readonly ok: false; readonly reason: string };

// LDH labels (plus "_", which internal DNS names use), each 1-63 characters, not starting or
// ending with "-". One pass, no nested repetition: linear in the input.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const PORT = /^[0-9]{1,5}$/;

/** Parse an authority (`host`, `host:port`, `[v6]:port`); at most 255 characters. */
export function parseHost(value: string): ParsedHost {
  if (value.length === 0 || value.length > 255) return bad('the host is empty or too long');
  const v = value.toLowerCase();
  let host: string;
  let portText: string | undefined;
  if (v.charCodeAt(0) === 91 /* [ */) {
    const end = v.indexOf(']');
    if (end === -1) return bad('unterminated IPv6 literal');
    host = v.slice(0, end + 1);
    // Node's isIPv6 accepts a zone id ("fe80::1%eth0"), which has no place in a Host (RFC 9110 §4.2.3).
    if (v.includes('%') || !isIPv6(v.slice(1, end))) return bad('invalid IPv6 literal');
    const rest = v.slice(end + 1);
    if (rest !== '') {
      if (rest.charCodeAt(0) !== 58 /* : */) return bad('junk after the IPv6 literal');
      portText = rest.slice(1);
    }
  } else {
    const colon = v.indexOf(':');
    host = colon === -1 ? v : v.slice(0, colon);
    portText = colon === -1 ? undefined : v.slice(colon + 1);
    const labels = host.split('.');
    for (const label of labels) {
      if (!LABEL.test(label))
        return bad(label === '' ? 'empty label (".." or a leading or trailing dot)' : 'characters a host name cannot have');
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!PORT.test(portText)) return bad('invalid port');
    port = Number(portText);
    if (port < 1 || port > 65535) return bad('port out of range');
  }
  return { ok: true, host, port, authority: port === undefined ? host : `${host}:${port}` };
}

/** Hosts a request may name: few in practice, so the parse of each is kept (bounded: emptied when full). */
const REQUEST_HOSTS_MAX = 256;
const requestHosts = new Map<string, ParsedHost>();

/**
 * parseHost for the Host of every request: the same answer, remembered for up to 256 valid
 * authorities (a client rotating names only empties the memo; refusals are not kept).
 */
export function parseRequestHost(value: string): ParsedHost {
  const known = requestHosts.get(value);
  if (known !== undefined) return known;
  const parsed = parseHost(value);
  if (parsed.ok) {
    if (requestHosts.size >= REQUEST_HOSTS_MAX) requestHosts.clear();
    requestHosts.set(value, parsed);
  }
  return parsed;
}

function bad(reason: string): ParsedHost {
  return { ok: false, reason };
}
