// The audit sink contract: the dumbest level that works. The writer (writer.ts) owns ordering,
// sequence numbers, the hash chain, queues, spooling and retries; a sink only delivers lines.
// Implementations: sinks/stdout.ts, sinks/file.ts, sinks/syslog.ts (UDP, TCP, TLS), sinks/relp.ts,
// sinks/http.ts.
// test/audit/sink.contract.ts runs the same suite against each.

export interface AuditSink {
  /** "stdout", "file:/var/log/gatehouse/audit.ndjson", "syslog:tcp://siem:6514", ... (no secrets). */
  readonly name: string;
  /** True for sinks that can be down (network): the writer spools for them. */
  readonly remote: boolean;
  /**
   * Deliver records in order, one JSON object per line (no trailing newline in the items).
   * Resolves when the sink has accepted all of them; rejects if it took none or only some (the
   * writer keeps them and retries, so a sink may see a record again: at-least-once, de-duplicate
   * by boot id + `event.sequence`). A sink that knows the receiver acknowledged the first k lines (RELP) rejects
   * with an error carrying `delivered: k` (PartialDelivery): only the rest is retried.
   */
  send(lines: readonly string[]): Promise<void>;
  /** Cheap, no I/O: was the last delivery successful? (/readyz) */
  ready(): boolean;
  close(): Promise<void>;
}

/** What a rejected send() may carry: how many leading lines the receiver acknowledged. */
export interface PartialDelivery {
  readonly delivered: number;
}

/**
 * What a rejected send() carries when retrying soon cannot help (HEC's 401 bad token, 403, 404, a
 * 400 the receiver will give this batch every time): the writer keeps the records (spool or
 * memory), says so loudly, and tries again only after a long pause.
 */
export interface PermanentFailure {
  readonly permanent: true;
}

export function isPermanentFailure(err: unknown): boolean {
  return (err as Partial<PermanentFailure> | undefined)?.permanent === true;
}
