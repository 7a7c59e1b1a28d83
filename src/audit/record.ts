// What an audit record says, and how it is written: Elastic Common Schema (default, record-ecs.ts)
// or OCSF (record-ocsf.ts). Records are built from an explicit allow-list of facts — never raw
// headers, cookies, tokens, query values or SAMLResponses. What a fact means (was the request let
// through, what kind of event is this) is decided once, in record-meaning.ts, for both formats.
import { ecsRecord } from './record-ecs.ts';
import { ocsfRecord } from './record-ocsf.ts';

export type { AuditFacts, AuditFormat, AuthAction, AuthFacts, Outcome, RequestFacts, Stamp, UserFacts } from './facts.ts';
import type { AuditFacts, AuditFormat, Stamp } from './facts.ts';

/**
 * The record for `f` in `format`. `prevHash`: put the chain link in place already (saves a copy on
 * the hot path; chain.ts says where each format keeps it).
 */
export function toRecord(f: AuditFacts, stamp: Stamp, format: AuditFormat, prevHash?: string): Record<string, unknown> {
  return format === 'ocsf' ? ocsfRecord(f, stamp, prevHash) : ecsRecord(f, stamp, prevHash);
}
