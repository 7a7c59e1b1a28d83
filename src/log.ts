// Operational logger (pino, JSON lines on stderr). Not the audit trail: audit records have their
// own sinks (stdout by default), so the two streams never mix. Redact paths are a second line of
// defence; callers log allow-listed fields only.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.token',
  '*.secret',
  '*.password',
  '*.client_secret',
];

export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'gatehouse' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(options, destination ?? pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Requests refused because something Gatehouse depends on is down (Redis, an IdP, an upstream, the
 * audit trail) are logged as episodes, not one line each: an outage at a few thousand requests a
 * second would otherwise write a line (and a stack) per refusal. Per code (and scope, e.g. the
 * route), the first refusal is logged once with its reason (at `level`), then one warn line per
 * interval with how many were refused, and one info line when an interval passes without any —
 * with the total (a lone refusal needs no such line). Each refusal is still logged at debug, with
 * its request id.
 */
export interface OutageLog {
  /** A request was refused with `code`; `scope` narrows the episode (e.g. `{ route }`). */
  refused(
    code: string,
    scope: Readonly<Record<string, string>> | undefined,
    fields: { readonly request_id?: string; readonly err?: string | undefined },
    message: string,
    level?: 'error' | 'warn',
  ): void;
}

/** How often a running episode is summed up (and how long without refusals ends one). */
export const OUTAGE_LOG_INTERVAL_MS = 10_000;

interface Episode {
  readonly since: number;
  total: number;
  inInterval: number;
  lastAt: number;
  timer: NodeJS.Timeout | undefined;
}

export function createOutageLog(log: Logger, intervalMs = OUTAGE_LOG_INTERVAL_MS, now: () => number = Date.now): OutageLog {
  const episodes = new Map<string, Episode>();
  const labels = (code: string, scope: Readonly<Record<string, string>> | undefined) => ({ ...scope, code });
  const tick = (key: string, code: string, scope: Readonly<Record<string, string>> | undefined) => {
    const e = episodes.get(key);
    if (!e) return;
    if (e.inInterval > 0) {
      log.warn(
        { ...labels(code, scope), state: 'ongoing', refused: e.inInterval, refused_total: e.total, since: new Date(e.since).toISOString() },
        `${code}: ${e.inInterval} requests failed in the last ${Math.round(intervalMs / 1000)} s`,
      );
      e.inInterval = 0;
      return;
    }
    clearInterval(e.timer);
    episodes.delete(key);
    if (e.total === 1) return;
    log.info(
      { ...labels(code, scope), state: 'ended', refused_total: e.total, duration_ms: e.lastAt - e.since },
      `${code}: no failures for ${Math.round(intervalMs / 1000)} s; ${e.total} requests failed in all`,
    );
  };
  return {
    refused(code, scope, fields, message, level = 'error') {
      log.debug({ ...fields, ...labels(code, scope) }, message);
      const key = `${code}\u0000${scope ? JSON.stringify(scope) : ''}`;
      const t = now();
      let e = episodes.get(key);
      if (!e) {
        e = { since: t, total: 0, inInterval: 0, lastAt: t, timer: undefined };
        episodes.set(key, e);
        log[level](
          { ...labels(code, scope), state: 'started', err: fields.err, request_id: fields.request_id },
          `${code}: requests failing (${message}); further failures are counted, and logged one by one at debug`,
        );
        e.timer = setInterval(() => tick(key, code, scope), intervalMs);
        e.timer.unref();
        // The first refusal is reported above, not again in the first summary.
        e.total = 1;
        e.lastAt = t;
        return;
      }
      e.total++;
      e.inInterval++;
      e.lastAt = t;
    },
  };
}
