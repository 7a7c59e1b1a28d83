// The user tokens `gatehouse login` obtained, per Gatehouse base URL, in
// ${XDG_CONFIG_HOME:-~/.config}/gatehouse/tokens.json: the directory 0700, the file 0600, written
// whole to a temporary file and renamed over the old one (a reader never sees half a file, and a
// crash leaves the previous tokens).
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What is kept for one base URL. */
export interface CachedTokens {
  readonly access_token: string;
  readonly refresh_token: string;
  /** Epoch ms when access_token expires. */
  readonly expires_at: number;
  readonly user?: string | undefined;
}

export function tokenCachePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'gatehouse', 'tokens.json');
}

/** A base URL as the cache keys it: origin plus path, no trailing slash, no query. */
export function normalizeBaseUrl(input: string): string {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new Error(`"${input}" is not a URL (like https://mlflow.corp.example)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`"${input}" is not an http(s) URL`);
  if (u.username || u.password) throw new Error(`"${input}": leave credentials out of the URL`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function readAll(path: string): Record<string, CachedTokens> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, CachedTokens>) : {};
  } catch {
    // A damaged cache is as good as none: signing in again rewrites it.
    return {};
  }
}

export function readTokens(base: string, env: NodeJS.ProcessEnv = process.env): CachedTokens | undefined {
  const entry = readAll(tokenCachePath(env))[base];
  return entry && typeof entry.access_token === 'string' && typeof entry.refresh_token === 'string' ? entry : undefined;
}

export function writeTokens(base: string, tokens: CachedTokens, env: NodeJS.ProcessEnv = process.env): void {
  const path = tokenCachePath(env);
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const all = readAll(path);
  all[base] = tokens;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

const LOCK_WAIT_MS = 10_000;
const LOCK_STALE_MS = 30_000;

/**
 * Run `work` holding the cache's lock file (`tokens.json.lock`, created exclusively), so parallel
 * `gatehouse token` runs refresh once: refresh tokens are single use, and the second run must read
 * what the first one wrote. A lock older than 30 s is a crashed run's and is taken over.
 */
export async function withCacheLock<T>(env: NodeJS.ProcessEnv | undefined, work: () => Promise<T>): Promise<T> {
  const path = `${tokenCachePath(env)}.lock`;
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS) unlinkSync(path);
      } catch {
        // gone meanwhile: try again
      }
      if (Date.now() > deadline) throw new Error(`another gatehouse command holds ${path}; try again`);
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
  try {
    return await work();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}
