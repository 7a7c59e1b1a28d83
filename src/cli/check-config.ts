// `gatehouse check-config`: load and compile only (no network, no listening), print a redacted
// summary or every problem with its key path. Exit code 0 = usable, 1 = not.
import { compileConfig } from '../config/compile.ts';
import type { Config } from '../config/types.ts';
import { loadConfigFile } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import { explain } from './explain.ts';
import { printLine } from './print.ts';

export function runCheckConfig(configPath: string, out: (line: string) => void = printLine, explainArgs?: readonly string[]): number {
  try {
    const { config, warnings } = compileConfig(loadConfigFile(configPath));
    if (explainArgs) {
      for (const line of explain(config, explainArgs)) out(line);
      return 0;
    }
    out(`${configPath}: OK`);
    for (const line of summarize(config)) out(line);
    for (const w of warnings) out(`warning: ${w}`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      out(`${configPath}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/** Human-readable summary. Secrets show as "[redacted]" (Secret.toString). */
export function summarize(config: Config): string[] {
  const s = config.server;
  const lines = [
    `  public_url:   ${s.publicUrl}${config.devMode ? '   (dev mode)' : ''}`,
    `  listen:       ${s.listen.host}:${s.listen.port}${s.tls ? ' (TLS)' : ''}`,
    `  admin:        ${config.admin.listen.host}:${config.admin.listen.port}, token ${config.admin.token ? String(config.admin.token) : 'not set (/admin/* refused)'}`,
    `  trusted:      ${s.trustedProxies.length ? s.trustedProxies.join(', ') : 'none (X-Forwarded-* from clients ignored)'}`,
    `  routes:       ${config.routes.length}`,
  ];
  for (const r of config.routes) {
    const who = r.allow ? Object.entries(r.allow).map(([k, v]) => `${k.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`)}=${Array.isArray(v) ? v.join('|') : String(v)}`).join(' ') : 'nobody (no allow)';
    lines.push(`    - ${r.name}: ${r.host ?? '*'}${r.path} -> ${r.upstream.origin}${r.upstream.basePath}  allow: ${who}`);
  }
  return lines;
}
