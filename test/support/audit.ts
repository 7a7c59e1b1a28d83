// Helpers for audit tests: sample facts, parsing delivered lines, de-duplication by
// (boot id, sequence) the way a SIEM would, and reading NDJSON files.
import { existsSync, readFileSync } from 'node:fs';
import type { AuthFacts, RequestFacts } from '../../src/audit/record.ts';

// Records are arbitrary JSON; tests reach into them by path.
export type AuditRecord = Record<string, any>;

export function parseRecords(lines: readonly string[]): AuditRecord[] {
  return lines.map((l) => JSON.parse(l) as AuditRecord);
}

/** The writer's per-process sequence, in either format. */
export function sequenceOf(r: AuditRecord): number {
  return (r.event?.sequence ?? r.metadata?.sequence) as number;
}

export function bootIdOf(r: AuditRecord): string {
  return (r.gatehouse?.boot_id ?? r.unmapped?.boot_id) as string;
}

/** The first delivery of each record (at-least-once delivery: later copies are dropped), in delivery order. */
export function firstDeliveries(records: readonly AuditRecord[]): AuditRecord[] {
  const seen = new Set<string>();
  const out: AuditRecord[] = [];
  for (const r of records) {
    const key = `${bootIdOf(r)}#${sequenceOf(r)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/** Lines of an NDJSON file ([] when it does not exist); every line must be terminated. */
export function readNdjson(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`${file} does not end with a newline`);
  return text.slice(0, -1).split('\n');
}

export function sampleRequest(i: number, over: Partial<RequestFacts> = {}): RequestFacts {
  return {
    kind: 'request',
    time: Date.UTC(2025, 0, 2, 3, 4, 5) + i,
    requestId: `req-${i}`,
    route: 'app',
    method: 'GET',
    host: 'ml.corp.example',
    path: `/runs/${i}`,
    queryKeys: [],
    status: 200,
    decision: 'allow',
    reason: 'group-allowed',
    rule: undefined,
    errorCode: undefined,
    user: { name: 'alice@example.com', email: 'alice@example.com', groups: ['ml-admins'], idp: 'corp' },
    authMethod: 'session',
    session: 'a'.repeat(64),
    clientIp: '10.1.2.3',
    userAgent: 'test-agent/1.0',
    upstream: 'http://127.0.0.1:5000/',
    bytesIn: 120,
    bytesOut: 3400,
    durationMs: 12.5,
    websocket: false,
    ...over,
  };
}

export function sampleAuth(over: Partial<AuthFacts> = {}): AuthFacts {
  return {
    kind: 'auth',
    time: Date.UTC(2025, 0, 2, 3, 4, 5),
    action: 'login_succeeded',
    outcome: 'success',
    reason: undefined,
    user: { name: 'alice@example.com', email: 'alice@example.com', groups: ['ml-admins'], idp: 'corp' },
    idp: 'corp',
    session: 'b'.repeat(64),
    requestId: 'req-auth',
    clientIp: '10.1.2.3',
    userAgent: 'test-agent/1.0',
    message: undefined,
    ...over,
  };
}
