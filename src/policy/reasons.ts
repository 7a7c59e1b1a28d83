// Stable reason codes for policy decisions: they choose the response (sign-in vs 403), fill the
// 403 page, and go into logs and the audit record. Never rename one; add new ones.
export const REASONS = [
  'public-route',
  'user-unauthenticated',
  'authenticated-ok',
  'users-ok',
  'emails-ok',
  'email-domain-ok',
  'groups-ok',
  'denied',
  'groups-unauthorized',
  'no-allow-default-deny',
] as const;

export type Reason = (typeof REASONS)[number];
