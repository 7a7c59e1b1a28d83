// tokens.*: credentials Gatehouse issues itself. Personal access tokens (tokens.pat) get bounded
// lifetimes: no token lives for ever, and the default never exceeds the maximum.
import type { RawConfig } from './schema.ts';
import { Findings, type Checked } from './findings.ts';
import type { PatConfig } from './types.ts';
import { parseDuration } from './units.ts';

/** Longest max_ttl accepted: a year and a day. */
const MAX_TTL_CAP_MS = 366 * 86_400_000;

export function compilePat(raw: RawConfig['tokens']['pat']): Checked<PatConfig> {
  const f = new Findings();
  const maxTtlMs = parseDuration(raw.max_ttl);
  const defaultTtlMs = parseDuration(raw.default_ttl);
  if (maxTtlMs < 60_000 || maxTtlMs > MAX_TTL_CAP_MS) f.problem('tokens.pat.max_ttl', 'must be between 1m and 366d');
  if (defaultTtlMs < 60_000 || defaultTtlMs > maxTtlMs) f.problem('tokens.pat.default_ttl', 'must be between 1m and tokens.pat.max_ttl');
  return f.result({
    enabled: raw.enabled,
    maxTtlMs,
    defaultTtlMs,
    maxPerUser: raw.max_per_user,
    createRate: raw.create_rate,
    recheckGroups: raw.recheck_groups,
  });
}
