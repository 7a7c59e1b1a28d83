// The hot path hashes JSON.stringify(record) as the canonical JSON: that is only true when every
// builder writes keys in sorted order at every level. This keeps them honest.
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainLine, verifyLines } from '../../src/audit/chain.ts';
import { toRecord, type AuditFacts } from '../../src/audit/record.ts';

const user = { name: 'alice@example.com', email: 'alice@example.com', groups: ['a', 'b'], idp: 'corp' };
const request: AuditFacts = {
  kind: 'request', time: 1_700_000_000_000, requestId: 'r1', route: 'app', method: 'GET', host: 'h', path: '/x', queryKeys: ['q'], status: 200,
  decision: 'allow', reason: 'groups-ok', rule: 1, errorCode: 'GH_X', user, authMethod: 'session', session: 's', clientIp: '1.2.3.4',
  userAgent: 'ua', upstream: 'http://u', bytesIn: 1, bytesOut: 2, durationMs: 3, websocket: true,
};
const auth: AuditFacts = {
  kind: 'auth', time: 1_700_000_000_000, action: 'login_succeeded', outcome: 'success', reason: 'r', user, idp: 'corp', session: 's',
  requestId: 'r1', clientIp: '1.2.3.4', userAgent: 'ua', message: 'm',
};

describe('audit record key order', () => {
  for (const format of ['ecs', 'ocsf'] as const) {
    for (const facts of [request, auth]) {
      it(`${format} ${facts.kind}: JSON.stringify equals the canonical JSON`, () => {
        const record = toRecord(facts, { sequence: 1, bootId: 'b' }, format);
        const fast = chainLine(record, 'p', true).line;
        const slow = chainLine(record, 'p', false).line;
        expect(fast).toBe(slow);
        expect(JSON.parse(fast).prev_hash).toBe('p');
        const { hash: _h, ...rest } = JSON.parse(fast);
        void _h;
        expect(JSON.stringify(rest)).toBe(canonicalJson(rest));
      });
    }
  }

  it('a chain written on the fast path verifies', () => {
    let prev = '';
    const lines: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const { line, hash } = chainLine(toRecord(request, { sequence: i, bootId: 'b' }, 'ecs'), prev, true);
      lines.push(line);
      prev = hash;
    }
    expect(verifyLines(lines).ok).toBe(true);
  });
});
