// Read a YAML config file and resolve ${env:NAME} / ${file:PATH} in every string value. The result
// is still unvalidated; compile.ts checks it. This is the only config step that does I/O.
import { readFileSync } from 'node:fs';
import { parseDocument, type YAMLError } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.ts';

// `$${...}` stays literal (written as `${...}`), so values may contain the syntax itself.
const PLACEHOLDER = /\$?\$\{(env|file):([^}]*)\}/g;

export interface LoadOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly readFile?: (path: string) => string;
}

/** Read and parse `path`; throws ConfigError naming the file, line or key on failure. */
export function loadConfigFile(path: string, options: LoadOptions = {}): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([
      { path: '', message: `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` },
    ]);
  }
  return parseConfigText(text, options);
}

/** Parse YAML text and substitute placeholders. */
export function parseConfigText(text: string, options: LoadOptions = {}): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => yamlProblem(e, text)));
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unknown aliases and alias bombs surface only here.
    throw new ConfigError([{ path: '', message: `YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const problems: ConfigProblem[] = [];
  const env = options.env ?? process.env;
  const readFile = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const resolved = substitute(raw ?? {}, '', { env, readFile, problems });
  if (problems.length > 0) throw new ConfigError(problems);
  return resolved;
}

/**
 * A YAML syntax error as the user can act on it: the message, then the offending line with a caret
 * under the column (the library's own text ends in a dangling "at line 4, column 1:").
 */
function yamlProblem(e: YAMLError, text: string): ConfigProblem {
  const at = e.linePos?.[0];
  if (e.code === 'MULTIPLE_DOCS') {
    return {
      path: '',
      message: `YAML: the file holds more than one document${at ? ` (a "---" or "..." line near line ${at.line})` : ''}; a Gatehouse config is a single YAML document`,
    };
  }
  const message = e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').split('\n')[0] ?? e.code;
  if (!at) return { path: '', message: `YAML: ${message}` };
  const line = (text.split(/\r?\n/)[at.line - 1] ?? '').replace(/\t/g, ' ');
  return {
    path: '',
    message: `YAML: line ${at.line}, column ${at.col}: ${message}\n    ${line}\n    ${' '.repeat(Math.max(0, at.col - 1))}^`,
  };
}

interface Context {
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => string;
  problems: ConfigProblem[];
}

function substitute(value: unknown, path: string, ctx: Context): unknown {
  if (typeof value === 'string') return substituteString(value, path, ctx);
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, `${path}[${i}]`, ctx));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, path ? `${path}.${k}` : k, ctx);
    return out;
  }
  return value;
}

function substituteString(value: string, path: string, ctx: Context): string {
  if (!value.includes('${')) return value;
  return value.replace(PLACEHOLDER, (match, kind: string, ref: string) => {
    if (match.startsWith('$$')) return match.slice(1);
    if (kind === 'env') {
      const v = ctx.env[ref];
      if (v === undefined) {
        ctx.problems.push({ path, message: `environment variable ${ref} is not set` });
        return '';
      }
      return v;
    }
    try {
      // Secrets mounted as files usually end with a newline that is not part of the value.
      return ctx.readFile(ref).replace(/\r?\n$/, '');
    } catch (err) {
      ctx.problems.push({ path, message: `cannot read ${ref}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
      return '';
    }
  });
}
