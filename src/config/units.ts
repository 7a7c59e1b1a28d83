// Small helpers shared by the config compilers.
import { isIP } from 'node:net';
import type { HostPort, ListenAddress } from './types.ts';
import { DURATION_PATTERN } from './schema.ts';

export const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: string): number {
  const m = DURATION_PATTERN.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

export function parseSize(v: string): number {
  const m = /^(\d+)\s*(B|KB|MB|GB)?$/i.exec(v)!;
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? 'B').toUpperCase()]!;
}

export function parseListen(value: string): ListenAddress {
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(i + 1)) };
}

export function parseHostPort(v: string): HostPort {
  const a = parseListen(v);
  return { host: a.host, port: a.port };
}

/** Validate an IP or CIDR ("10.0.0.0/8", "::1", "fd00::/8"); returns a message or undefined. */
export function checkCidr(value: string): string | undefined {
  const [addr, bits, extra] = value.split('/');
  const family = isIP(addr ?? '');
  if (!family || extra !== undefined) return `"${value}" is not an IP address or CIDR`;
  if (bits === undefined) return undefined;
  const n = Number(bits);
  const max = family === 4 ? 32 : 128;
  if (!/^\d+$/.test(bits) || n > max) return `"${value}" has a bad prefix length (0-${max})`;
  return undefined;
}
