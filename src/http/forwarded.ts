// Who is the client? X-Forwarded-For/Proto/Host are believed only when the direct peer is in
// server.trusted_proxies; otherwise the socket address and the request's own Host are used.
import { BlockList, isIPv4 } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';

export interface ClientInfo {
  readonly ip: string;
  /** The direct peer is a trusted proxy (its X-Forwarded-* and X-Request-Id are believed). */
  readonly trusted: boolean;
  readonly proto: 'http' | 'https';
  /** Host as the client asked for it (X-Forwarded-Host from a trusted proxy, else Host). */
  readonly host: string;
}

export type ClientResolver = (req: IncomingMessage) => ClientInfo;

/** Build the resolver once per config; `trustedProxies` are validated CIDRs or IPs. */
export function createClientResolver(trustedProxies: readonly string[]): ClientResolver {
  const list = new BlockList();
  for (const entry of trustedProxies) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  const isTrusted = trustedProxies.length === 0 ? () => false : (ip: string) => list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');

  return (req) => {
    const peer = plainIp(req.socket.remoteAddress ?? '');
    const ownProto = req.socket instanceof TLSSocket ? 'https' : 'http';
    const ownHost = req.headers.host ?? '';
    if (!isTrusted(peer)) return { ip: peer, trusted: false, proto: ownProto, host: ownHost };

    const fwdProto = firstValue(req.headers['x-forwarded-proto']);
    const fwdHost = firstValue(req.headers['x-forwarded-host']);
    return {
      ip: clientFromChain(req.headers['x-forwarded-for'], peer, isTrusted),
      trusted: true,
      proto: fwdProto === 'https' || fwdProto === 'http' ? fwdProto : ownProto,
      host: fwdHost || ownHost,
    };
  };
}

/** The right-most address in X-Forwarded-For that is not a trusted proxy. */
function clientFromChain(header: string | string[] | undefined, peer: string, isTrusted: (ip: string) => boolean): string {
  if (!header) return peer;
  const hops = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((h) => plainIp(h.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isTrusted(hops[i]!)) return hops[i]!;
  }
  return hops[0] ?? peer;
}

function firstValue(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return '';
  const comma = s.indexOf(',');
  return (comma === -1 ? s : s.slice(0, comma)).trim().toLowerCase();
}

/** "::ffff:10.0.0.1" → "10.0.0.1" so IPv4 CIDRs match dual-stack sockets. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}
