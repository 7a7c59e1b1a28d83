// The hot path hashes JSON.stringify(record) as the canonical JSON: that is only true when every
// builder writes keys in sorted order at every level. This keeps them honest.
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainLine, verifyLines } from '../../src/audit/chain.ts';
import { toRecord, type AuditFacts, type AuditFormat } from '../../src/audit/record.ts';

const user = { name: 'alice@example.com', email: 'alice@example.com', groups: ['a', 'b'], idp: 'corp' };
const request: AuditFacts = {
  kind: 'request',
  time: 1_700_000_000_000,
  requestId: 'r1',
  route: 'app',
  method: 'GET',
  host: 'h',
  path: '/x',
  queryKeys: ['q'],
  status: 200,
  decision: 'allow',
  reason: 'groups-ok',
  rule: 'app/4f1c2a9e0b7d',
  errorCode: 'GH_X',
  user,
  authMethod: 'session',
  session: 's',
  clientIp: '1.2.3.4',
  userAgent: 'ua',
  upstream: 'http://u',
  bytesIn: 1,
  bytesOut: 2,
  durationMs: 3,
  websocket: true,
};
const auth: AuditFacts = {
  kind: 'auth',
  time: 1_700_000_000_000,
  action: 'login_succeeded',
  outcome: 'success',
  reason: 'r',
  user,
  idp: 'corp',
  session: 's',
  requestId: 'r1',
  clientIp: '1.2.3.4',
  userAgent: 'ua',
  message: 'm',
};

/** Where each format keeps the chain links (issue 14: ECS event.hash + gatehouse.chain, OCSF unmapped.chain). */
const links = (format: AuditFormat, r: Record<string, any>) =>
  format === 'ecs'
    ? { hash: r.gatehouse.chain.hash, prev: r.gatehouse.chain.prev_hash, copy: r.event.hash }
    : { hash: r.unmapped.chain.hash, prev: r.unmapped.chain.prev_hash, copy: r.unmapped.chain.hash };

describe('audit record key order', () => {
  for (const format of ['ecs', 'ocsf'] as const) {
    for (const facts of [request, auth]) {
      it(`${format} ${facts.kind}: JSON.stringify equals the canonical JSON`, () => {
        // As the writer does it: the link already in place (fast path), against a record without it (canonical path).
        const fast = chainLine(toRecord(facts, { sequence: 1, bootId: 'b' }, format, 'p'), 'p', true);
        const slow = chainLine(toRecord(facts, { sequence: 1, bootId: 'b' }, format), 'p', false);
        expect(fast.line).toBe(slow.line);
        const parsed = JSON.parse(fast.line);
        expect(links(format, parsed)).toEqual({ hash: fast.hash, prev: 'p', copy: fast.hash });
        expect(fast.line).toBe(canonicalJson(parsed));
        expect('hash' in parsed || 'prev_hash' in parsed).toBe(false);
      });
    }
  }

  for (const format of ['ecs', 'ocsf'] as const) {
    it(`${format}: a chain written on the fast path verifies; an edited, re-hashed line does not`, () => {
      let prev = '';
      const lines: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const { line, hash } = chainLine(toRecord(i % 2 ? request : auth, { sequence: i, bootId: 'b' }, format, prev), prev, true);
        lines.push(line);
        prev = hash;
      }
      expect(verifyLines(lines)).toMatchObject({ ok: true, records: 5, chains: 1 });
      // A SIEM that re-serialises a record (other key order, whitespace) keeps it verifiable.
      const reordered = lines.map((l) => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l)).reverse()), null, 0));
      expect(verifyLines(reordered).ok).toBe(true);
      // Someone rewrites line 3 as another user and recomputes its hash: line 3 checks out, line 4 no longer follows.
      const forged = JSON.parse(lines[2]!.replaceAll('alice@example.com', 'mallory@example.com'));
      const rehashed = chainLine(forged, links(format, forged).prev, false).line;
      expect(rehashed).toContain('mallory@example.com');
      const r = verifyLines([...lines.slice(0, 2), rehashed, ...lines.slice(3)]);
      expect(r.ok).toBe(false);
      expect(r.problems).toEqual(['line 4: does not follow line before (a record was deleted, inserted or reordered)']);
    });
  }
});
