// The `ssf` section (Shared Signals receiver) → SsfConfig: each transmitter's JWKS URL must be https
// (plain http only on a loopback host in dev mode, like an IdP's issuer), issuers are unique (the
// issuer picks the transmitter a SET is checked against), and max_age is bounded. No I/O.
import { Findings, type Checked } from './findings.ts';
import type { RawSsf } from './schema.ts';
import type { SsfConfig } from './types.ts';
import { LOOPBACK_HOSTS, parseDuration } from './units.ts';
import { ASYMMETRIC_ALGS } from './algorithms.ts';

export function compileSsf(raw: RawSsf | undefined, devMode: boolean): Checked<SsfConfig | undefined> {
  const f = new Findings();
  if (raw === undefined) return f.result(undefined);
  const seen = new Map<string, number>();
  raw.transmitters.forEach((t, i) => {
    const at = `ssf.transmitters[${i}]`;
    const url = new URL(t.jwks_url);
    if (url.protocol === 'http:' && !(devMode && LOOPBACK_HOSTS.has(url.hostname))) {
      f.problem(`${at}.jwks_url`, 'must be https:// (plain http only for a loopback transmitter in dev mode)');
    }
    const first = seen.get(t.issuer);
    if (first !== undefined) f.problem(`${at}.issuer`, `same issuer as ssf.transmitters[${first}]: each transmitter needs its own`);
    else seen.set(t.issuer, i);
  });
  const maxAgeMs = parseDuration(raw.max_age);
  if (maxAgeMs < 30_000 || maxAgeMs > 86_400_000) f.problem('ssf.max_age', 'must be between 30s and 1d');
  return f.result({
    transmitters: raw.transmitters.map((t) => ({
      issuer: t.issuer,
      jwksUrl: t.jwks_url,
      audience: t.audience,
      subject: t.subject,
      algorithms: t.algorithms ?? ASYMMETRIC_ALGS,
    })),
    maxAgeMs,
    maxBodyBytes: raw.max_body,
    ratePerMinute: raw.rate_per_minute,
  });
}
