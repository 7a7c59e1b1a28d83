// A configured secret (admin token, client secrets, session secret). It prints as "[redacted]" in
// logs, JSON, util.inspect and string concatenation; code that needs the value calls value().
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    Object.freeze(this);
  }

  value(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * A stable text of a config value with secrets' real values in it, to tell whether settings
 * changed (reload reuse). Never log or return it anywhere.
 */
export function settingsFingerprint(value: unknown): string {
  const walk = (v: unknown): unknown => {
    if (v instanceof Secret) return { secret: v.value() };
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return JSON.stringify(walk(value));
}
