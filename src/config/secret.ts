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

/** Values that are somebody's "fill this in", never a secret (compared without case). */
// Long enough that a random base64 secret does not contain one by chance (short words need separators).
const PLACEHOLDER_WORDS =
  /change[-_. ]?me|change[-_. ]?it|example|placeholder|replace[-_. ]?(me|with|this)|your[-_. ]|insert[-_. ]|(?:^|[-_. ])todo(?:[-_. ]|$)|xxxxxx/i;
const MIN_DISTINCT_CHARS = 8;
const MIN_BITS_PER_CHAR = 3;
const GENERATED = new Set(['session.secret', 'admin.token', 'scim.token']);
const HINT = 'generate one with `openssl rand -base64 48`';

/**
 * Problems with the configured secrets (session.secret, admin.token, OIDC client secrets, Redis
 * passwords, audit sink tokens): a copied placeholder ("change-me-…", "example", "xxxx", one
 * character or a short pattern repeated) is rejected everywhere; a low-entropy session secret or
 * admin token (few distinct characters, under 3 bits per character) outside dev mode. Messages never contain the value.
 */
export function secretProblems(raw: SecretFields, devMode: boolean): { path: string; message: string }[] {
  const found: [string, string | undefined][] = [
    ['session.secret', raw.session?.secret],
    ['admin.token', raw.admin?.token],
    ['scim.token', raw.scim?.token],
    ['session.redis.password', raw.session?.redis?.password],
    ...(raw.identity_providers ?? []).map((p, i): [string, string | undefined] => [
      `identity_providers[${i}].client_secret`,
      text(p.client_secret),
    ]),
    ...(raw.audit?.sinks ?? []).map((s, i): [string, string | undefined] => [`audit.sinks[${i}].token`, text(s.token)]),
  ];
  const problems: { path: string; message: string }[] = [];
  for (const [path, value] of found) {
    if (value === undefined || value === '') continue;
    const word = PLACEHOLDER_WORDS.exec(value)?.[0];
    if (word) problems.push({ path, message: `looks like a placeholder (contains "${word.toLowerCase()}"), not a secret; ${HINT}` });
    else if (/^(.{1,8}?)\1+$/su.test(value))
      problems.push({ path, message: `looks like a placeholder (a short pattern repeated), not a secret; ${HINT}` });
    // Client secrets and passwords are issued elsewhere; the two Gatehouse's operator generates are judged.
    else if (!devMode && GENERATED.has(path) && lowEntropy(value))
      problems.push({ path, message: `too predictable (few distinct characters); ${HINT}` });
  }
  return problems;
}

/** The parts of the raw (schema-checked) config that hold secrets. */
export interface SecretFields {
  readonly session?:
    | { readonly secret?: string | undefined; readonly redis?: { readonly password?: string | undefined } | undefined }
    | undefined;
  readonly admin?: { readonly token?: string | undefined } | undefined;
  readonly scim?: { readonly token?: string | undefined } | undefined;
  readonly identity_providers?: readonly Readonly<Record<string, unknown>>[] | undefined;
  readonly audit?: { readonly sinks?: readonly Readonly<Record<string, unknown>>[] | undefined } | undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function lowEntropy(value: string): boolean {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...value].length;
  let bits = 0;
  for (const c of counts.values()) bits -= (c / n) * Math.log2(c / n);
  return counts.size < MIN_DISTINCT_CHARS || bits < MIN_BITS_PER_CHAR;
}
