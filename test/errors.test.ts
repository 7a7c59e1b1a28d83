import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ERROR_CODES, GatehouseError, isGatehouseError, toGatehouseError, type ErrorCode } from '../src/errors.ts';

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
    const wrong = CODES.filter((c) => rows.get(c) !== ERROR_CODES[c].status).map((c) => `${c}: doc ${rows.get(c)}, code ${ERROR_CODES[c].status}`);
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
    expect(new ConfigError([{ path: 'server', message: 'required' }]).message).toBe('invalid configuration (1 problem):\n  server: required');
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

  it.each([new TypeError('boom'), 'a string', undefined, { code: 'ECONNRESET' }])('wraps %j as GH_INTERNAL without exposing it', (thrown) => {
    const err = toGatehouseError(thrown);
    expect(err.code).toBe('GH_INTERNAL');
    expect(err.status).toBe(500);
    expect(err.expose).toBe(false);
    expect(err.message).toBe('internal error');
    expect(err.cause).toBe(thrown);
  });
});
