// What delivery envelopes need to know about a record without re-building it: when its event
// happened and which schema it is in. The syslog TIMESTAMP and the HEC `time` carry the event time,
// not the send time: a record replayed after an outage keeps the time it happened (issue 14).
// Records from record.ts are read on their sorted-key layout (no parse); anything else is parsed.

/** ECS records start with their @timestamp (keys sorted). */
const ECS_TIMESTAMP = /^\{"@timestamp":"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z)"/;
/** OCSF records hold one `time` key (epoch ms) at the top level and none nested; a JSON string cannot hold an unescaped `,"time":`. */
const OCSF_TIME = /,"time":(\d{1,16})[,}]/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

export type RecordSchema = 'ecs' | 'ocsf' | undefined;

export function recordSchema(line: string): RecordSchema {
  if (line.startsWith('{"@timestamp"')) return 'ecs';
  if (line.includes('"class_uid":')) return 'ocsf';
  return undefined;
}

/** The event time as RFC 3339 (the syslog TIMESTAMP), or undefined when the line has none. */
export function eventTimeRfc3339(line: string): string | undefined {
  const fast = ECS_TIMESTAMP.exec(line);
  if (fast) return fast[1];
  const ms = eventTimeMs(line);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** The event time in epoch milliseconds, or undefined when the line has none. */
export function eventTimeMs(line: string): number | undefined {
  const iso = ECS_TIMESTAMP.exec(line)?.[1];
  if (iso) return Date.parse(iso);
  if (recordSchema(line) === 'ocsf') {
    const m = OCSF_TIME.exec(line);
    if (m) return Number(m[1]);
  }
  try {
    const r = JSON.parse(line) as { '@timestamp'?: unknown; time?: unknown };
    if (typeof r['@timestamp'] === 'string' && RFC3339.test(r['@timestamp'])) return Date.parse(r['@timestamp']);
    if (typeof r.time === 'number' && Number.isSafeInteger(r.time) && r.time > 0) return r.time;
  } catch {
    // not JSON: no event time
  }
  return undefined;
}
