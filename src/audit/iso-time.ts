// Record times as ISO 8601 (ECS @timestamp), formatted once per second: a record built for every
// request otherwise pays a Date and a full toISOString each (~0.7 µs, docs/performance.md). Same
// text as new Date(ms).toISOString(), which stays the answer outside years 0000-9999.

/** The second last formatted, and its text up to the milliseconds ("2026-12-01T21:04:05."). */
let second = Number.NaN;
let prefix = '';
const LAST_MS = 253_402_300_800_000; // 10000-01-01T00:00:00Z

export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < LAST_MS)) return new Date(ms).toISOString();
  const t = Math.trunc(ms);
  const s = Math.floor(t / 1000);
  if (s !== second) {
    prefix = new Date(s * 1000).toISOString().slice(0, 20);
    second = s;
  }
  const m = t - s * 1000;
  return `${prefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
}
