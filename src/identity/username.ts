// A local user name safe for tools that map users to system accounts (JupyterHub's
// LocalProcessSpawner, useradd, home directories): identity values are e-mails or display names
// ("alice@example.com" → getpwnam() fails). The same rule as safe_username() in
// config/examples/integrations/jupyterhub/gatehouse_authenticator.py.

/**
 * The local part of an e-mail (or the whole value), accents removed, lower-cased, runs of
 * anything but [a-z0-9_-] (and of "-") as one "-", starting with a letter, at most `maxLength` characters;
 * "" when nothing usable is left (the header is then not sent).
 */
export function safeUsername(value: string, maxLength: number): string {
  const at = value.indexOf('@');
  const local = (at === -1 ? value : value.slice(0, at))
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
  const name = local
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/[-_]+$/, '');
  return name.slice(0, maxLength).replace(/[-_]+$/, '');
}
