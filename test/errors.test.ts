import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AuthAction } from '../src/audit/record.ts';
import { ConfigError, ERROR_CODES, errorSpec, GatehouseError, isGatehouseError, toGatehouseError, type ErrorCode } from '../src/errors.ts';
import { publicMessage } from '../src/http/respond.ts';

const DOC = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const MENTIONED = new Set(DOC.match(/\bGH_[A-Z0-9_]*[A-Z0-9]\b/g) ?? []);

/** Table rows of docs/errors.md: code → status column. */
function documentedStatuses(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of DOC.split('\n')) {
    const m = /^\|\s*`?(GH_[A-Z0-9_]+)`?\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (m) rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

describe('docs/errors.md and ERROR_CODES agree', () => {
  it.each(CODES)('%s is documented', (code) => {
    expect(MENTIONED.has(code)).toBe(true);
  });

  it('every GH_ code mentioned in docs/errors.md exists in ERROR_CODES', () => {
    expect(MENTIONED.size).toBeGreaterThan(0);
    const unknown = [...MENTIONED].filter((c) => !(c in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it('every code has a table row whose status matches ERROR_CODES', () => {
    const rows = documentedStatuses();
    const wrong = CODES.filter((c) => rows.get(c) !== ERROR_CODES[c].status).map(
      (c) => `${c}: doc ${rows.get(c)}, code ${ERROR_CODES[c].status}`,
    );
    expect(wrong).toEqual([]);
  });
});

describe('ERROR_CODES', () => {
  it.each(CODES)('%s has an HTTP error status and a public title', (code) => {
    const { status, title } = ERROR_CODES[code];
    expect(Number.isInteger(status)).toBe(true);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
    expect(title.trim()).not.toBe('');
    expect(code).toMatch(/^GH_[A-Z0-9_]+$/);
  });
});

describe('GatehouseError', () => {
  it.each(CODES.map((c) => [c, ERROR_CODES[c].status] as const))('%s (status %i): expose only below 500', (code, status) => {
    const err = new GatehouseError(code, 'details');
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(err.expose).toBe(status < 500);
    expect(err.message).toBe('details');
    expect(err.name).toBe('GatehouseError');
    expect(err).toBeInstanceOf(Error);
  });

  it('4xx messages are exposed, 5xx are not (boundary)', () => {
    expect(new GatehouseError('GH_BAD_PATH', 'x').expose).toBe(true);
    expect(new GatehouseError('GH_NO_ROUTE', 'x').expose).toBe(true);
    expect(new GatehouseError('GH_INTERNAL', 'x').expose).toBe(false);
    expect(new GatehouseError('GH_UPSTREAM_UNREACHABLE', 'x').expose).toBe(false);
    expect(new GatehouseError('GH_UPSTREAM_TIMEOUT', 'x').expose).toBe(false);
    expect(new GatehouseError('GH_CONFIG_INVALID', 'x').expose).toBe(false);
  });

  it('keeps the cause', () => {
    const cause = new Error('socket hang up');
    expect(new GatehouseError('GH_UPSTREAM_RESET', 'reset', { cause }).cause).toBe(cause);
  });
});

describe('ConfigError', () => {
  it('is a GH_CONFIG_INVALID GatehouseError listing every problem with its key path', () => {
    const err = new ConfigError([
      { path: 'routes[2].upstream', message: 'not a URL' },
      { path: '', message: 'YAML: bad indentation' },
    ]);
    expect(err).toBeInstanceOf(GatehouseError);
    expect(err.name).toBe('ConfigError');
    expect(err.code).toBe('GH_CONFIG_INVALID');
    expect(err.status).toBe(500);
    expect(err.expose).toBe(false);
    expect(err.problems).toHaveLength(2);
    expect(err.message).toBe('invalid configuration (2 problems):\n  routes[2].upstream: not a URL\n  YAML: bad indentation');
  });

  it('uses the singular for one problem', () => {
    expect(new ConfigError([{ path: 'server', message: 'required' }]).message).toBe(
      'invalid configuration (1 problem):\n  server: required',
    );
  });
});

describe('isGatehouseError / toGatehouseError', () => {
  it('recognises its own errors', () => {
    expect(isGatehouseError(new GatehouseError('GH_NO_ROUTE', 'x'))).toBe(true);
    expect(isGatehouseError(new ConfigError([]))).toBe(true);
    expect(isGatehouseError(new Error('x'))).toBe(false);
    expect(isGatehouseError('GH_NO_ROUTE')).toBe(false);
    expect(isGatehouseError(undefined)).toBe(false);
  });

  it('passes GatehouseErrors through unchanged', () => {
    const err = new GatehouseError('GH_UPSTREAM_TIMEOUT', 'slow');
    expect(toGatehouseError(err)).toBe(err);
  });

  it.each([new TypeError('boom'), 'a string', undefined, { code: 'ECONNRESET' }])(
    'wraps %j as GH_INTERNAL without exposing it',
    (thrown) => {
      const err = toGatehouseError(thrown);
      expect(err.code).toBe('GH_INTERNAL');
      expect(err.status).toBe(500);
      expect(err.expose).toBe(false);
      expect(err.message).toBe('internal error');
      expect(err.cause).toBe(thrown);
    },
  );
});

describe('ERROR_CODES columns: the audit event and the public 5xx text', () => {
  it('exactly two codes cause an audit event, as the pipeline always wrote them', () => {
    const audited = CODES.filter((c) => errorSpec(c).audit !== undefined).map((c) => [c, errorSpec(c).audit]);
    expect(audited).toEqual([
      ['GH_LOGIN_FAILED', { action: 'login_failed', reason: 'login_failed' }],
      ['GH_BAD_TOKEN', { action: 'bearer_rejected', reason: 'invalid_token' }],
    ]);
    // The column's actions are audit actions (a compile-time check as much as a run-time one).
    const actions: AuthAction[] = audited.map(([, a]) => (a as { action: AuthAction }).action);
    expect(actions).toHaveLength(2);
  });

  it('a public message is given for 5xx codes only, and for every 5xx but the two that mean a bug', () => {
    const withText = CODES.filter((c) => errorSpec(c).publicMessage !== undefined);
    expect(withText.every((c) => ERROR_CODES[c].status >= 500)).toBe(true);
    const without5xx = CODES.filter((c) => ERROR_CODES[c].status >= 500 && errorSpec(c).publicMessage === undefined);
    expect(without5xx.sort()).toEqual(['GH_CONFIG_INVALID', 'GH_INTERNAL']);
  });

  it('publicMessage: a 4xx shows its own message, a 5xx its table text, never the cause', () => {
    expect(publicMessage(new GatehouseError('GH_BAD_PATH', 'the path has %2F'))).toBe('the path has %2F');
    const down = new GatehouseError('GH_STORE_UNAVAILABLE', 'redis 10.0.0.5:6379 ECONNREFUSED');
    expect(publicMessage(down)).toBe(ERROR_CODES.GH_STORE_UNAVAILABLE.publicMessage);
    expect(publicMessage(down)).not.toContain('10.0.0.5');
    expect(publicMessage(toGatehouseError(new Error('stack detail')))).toBe('Something went wrong inside Gatehouse.');
  });
});
