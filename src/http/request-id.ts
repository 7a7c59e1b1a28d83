// Request ids: a fresh UUID, or the inbound X-Request-Id when a trusted proxy sent a sane one
// (so one id follows the request through the ingress, Gatehouse and the upstream).
import { randomUUID } from 'node:crypto';

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(inbound: string | string[] | undefined, trusted: boolean): string {
  if (trusted && typeof inbound === 'string' && SANE_ID.test(inbound)) return inbound;
  return randomUUID();
}
