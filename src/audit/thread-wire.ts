// What crosses between the main thread and the audit worker (thread.ts, thread-worker.ts). Facts
// travel as JSON lines, many to one posted string: a string is the cheapest thing to post (a
// structured clone of objects cost four times as much per record).
import { Secret } from '../config/secret.ts';
import type { AuditConfig, AuditSinkConfig } from '../config/types.ts';
import type { AuditFacts } from './facts.ts';

/** A line that is not facts but a refused request (writer.noteRefused), in order with the facts. */
export const REFUSED_PREFIX = 'R';
/**
 * A line that sets the config hash records carry (record-meaning.ts setConfigHash: module state of
 * each thread): first in every batch, and wherever it changed between two records.
 */
export const CONFIG_PREFIX = 'C';

/**
 * The facts as one JSON line. JSON turns NaN and ±Infinity into null, which a builder reads
 * differently (Math.round(null * 1e6) is 0; new Date(NaN) throws): such numbers are tagged, so the
 * worker builds the record it would have built here. Facts hold no null of their own, so a line
 * without "null" needs no tags — the common case pays one substring search. Missing and undefined
 * keys both read as undefined in the builders, and -0 prints as 0 in a record either way.
 */
export function encodeFacts(f: AuditFacts): string {
  const line = JSON.stringify(f);
  return line.includes('null') ? JSON.stringify(f, tagNumbers) : line;
}

export function decodeFacts(line: string): AuditFacts {
  return (line.includes(TAG) ? JSON.parse(line, untagNumbers) : JSON.parse(line)) as AuditFacts;
}

const TAG = '"$gh_num"';

function tagNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? { $gh_num: String(v) } : v;
}

function untagNumbers(_key: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && typeof (v as { $gh_num?: unknown }).$gh_num === 'string') {
    const keys = Object.keys(v);
    if (keys.length === 1) return Number((v as { $gh_num: string }).$gh_num);
  }
  return v;
}

/** An HTTP sink's token as plain text: a Secret does not survive a structured clone (its value is private). */
export type WireSinkConfig =
  | Exclude<AuditSinkConfig, { type: 'http' }>
  | (Omit<Extract<AuditSinkConfig, { type: 'http' }>, 'token'> & { readonly token: string | undefined });

export interface WireInit {
  readonly audit: Omit<AuditConfig, 'sinks'> & { readonly sinks: readonly WireSinkConfig[] };
  readonly chainKey: Uint8Array | undefined;
  /** The first start only: the worker says here whether it started, while the main thread waits. */
  readonly handshake: SharedArrayBuffer | undefined;
}

export function toWireSinks(sinks: readonly AuditSinkConfig[]): WireSinkConfig[] {
  return sinks.map((s) => (s.type === 'http' ? { ...s, token: s.token?.value() } : s));
}

export function fromWireSink(s: WireSinkConfig): AuditSinkConfig {
  return s.type === 'http' ? { ...s, token: s.token === undefined ? undefined : new Secret(s.token) } : s;
}

/** What the main thread answers canAccept() and ready() from until the worker says otherwise. */
export interface WorkerState {
  readonly accept: boolean;
  readonly ready: { readonly ok: boolean; readonly checks: Readonly<Record<string, string>> };
  /** The writer's backlog() when this state was taken ... */
  readonly backlog: number;
  /** ... and how many records this worker had been given by then. */
  readonly received: number;
}

/** Metric increments since the last report, by metric and sink; `queued` is the gauge's last value. */
export interface MetricDeltas {
  readonly written: Record<string, number>;
  readonly spooled: Record<string, number>;
  readonly retried: Record<string, number>;
  readonly failed: Record<string, number>;
  readonly queued: Record<string, number>;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Main → worker. */
export type ToWorker =
  | { readonly t: 'batch'; readonly id: number; readonly lines: string }
  | { readonly t: 'flush'; readonly id: number; readonly timeoutMs: number }
  | { readonly t: 'close'; readonly timeoutMs: number }
  | { readonly t: 'out-done'; readonly id: number; readonly err: string | undefined }
  /** Tests only: the worker exits at once, as if it crashed, before reading anything posted after. */
  | { readonly t: 'crash' };

/** Worker → main. */
export type FromWorker =
  | { readonly t: 'started'; readonly state: WorkerState }
  | { readonly t: 'failed'; readonly error: string }
  | { readonly t: 'ack'; readonly id: number; readonly state?: WorkerState | undefined }
  | { readonly t: 'state'; readonly state?: WorkerState | undefined; readonly metrics?: MetricDeltas | undefined }
  | {
      readonly t: 'flushed';
      readonly id: number;
      readonly ok: boolean;
      readonly state: WorkerState;
      readonly metrics?: MetricDeltas | undefined;
    }
  | { readonly t: 'closed'; readonly metrics?: MetricDeltas | undefined }
  | { readonly t: 'log'; readonly level: LogLevel; readonly obj: object | undefined; readonly msg: string | undefined }
  /** The stdout sink's bytes: the main thread writes them to the real stdout and answers out-done. */
  | { readonly t: 'out'; readonly id: number; readonly text: string };
