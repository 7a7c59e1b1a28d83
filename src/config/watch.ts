// `watch: true`: reload when the config file changes. Editors and Kubernetes ConfigMaps replace the
// file (rename, symlink swap) rather than write it in place, so the directory is watched and
// events are debounced; the reload itself validates everything and keeps the old config on error.
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.ts';

export function watchConfig(path: string, onChange: () => void, log: Logger, debounceMs = 300): () => void {
  let timer: NodeJS.Timeout | undefined;
  const name = basename(path);
  const watcher = watch(dirname(path), (_event, file) => {
    if (file !== null && file !== name && !String(file).startsWith('..')) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      log.info({ file: path }, 'config file changed: reloading');
      onChange();
    }, debounceMs);
  });
  watcher.on('error', (err) => log.warn({ err: err.message }, 'config watch failed'));
  watcher.unref();
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}
