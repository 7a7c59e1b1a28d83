// The few pages Gatehouse renders itself (errors, the sign-in chooser, the IdP retry and logout
// pages): small, dependency-free HTML with every dynamic value escaped, and one style sheet.
// Every page that ends a user's way offers the next step (sign in as someone else, go back).
import { LOGIN_PATH, LOGOUT_PATH } from './endpoints.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface PageContent {
  readonly status: number;
  readonly title: string;
  readonly message: string;
  readonly requestId: string;
  /** Ways on from this page (escaped here). */
  readonly links?: readonly PageLink[];
}

export interface PageLink {
  readonly href: string;
  readonly label: string;
}

/** The one style sheet of every page (inline: PAGE_CSP allows nothing else). */
const STYLE = `body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f7f9;color:#1d2330;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border:1px solid #e2e5ea;border-radius:10px;padding:2rem 2.5rem;max-width:34rem;box-shadow:0 1px 3px #0001}
h1{font-size:1.25rem;margin:0 0 .75rem}.code{color:#6b7385;font-weight:400}
p{margin:.5rem 0}.rid{font:13px ui-monospace,Menlo,Consolas,monospace;color:#6b7385;margin-top:1.5rem}
button{font:inherit;padding:.4rem 1rem;border-radius:6px;border:1px solid #2f5bd3;background:#2f5bd3;color:#fff;cursor:pointer}
a{color:#2f5bd3}.links a{margin-right:1.25rem}`;

/**
 * Content-Security-Policy of everything Gatehouse renders: nothing loads or runs but the inline
 * style above, so a value that escaped escaping still could not script; never framed. No
 * form-action: the logout form's POST is redirected on to the IdP, which form-action would block.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

/** A simple page; `bodyHtml` must already be escaped by the caller. */
export function renderPage(title: string, bodyHtml: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Gatehouse</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>
${bodyHtml}
</main></body></html>
`;
}

export function renderErrorPage(p: PageContent): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${p.status} ${escapeHtml(p.title)} · Gatehouse</title><style>${STYLE}</style></head>
<body><main>
<h1><span class="code">${p.status}</span> ${escapeHtml(p.title)}</h1>
<p>${escapeHtml(p.message)}</p>
${p.links?.length ? `${linksHtml(p.links)}\n` : ''}<p class="rid">Request ID: ${escapeHtml(p.requestId)}</p>
</main></body></html>
`;
}

function linksHtml(links: readonly PageLink[]): string {
  return `<p class="links">${links.map((l) => `<a href="${escapeHtml(l.href)}">${escapeHtml(l.label)}</a>`).join('')}</p>`;
}

/**
 * 403 for a signed-in user: sign out, then sign in again (perhaps as someone else) and come back
 * to `returnTo` — the sign-out page carries it through (`rd`).
 */
export function switchAccountLink(returnTo: string): PageLink {
  return { href: `${LOGOUT_PATH}?rd=${encodeURIComponent(returnTo)}`, label: 'Sign in as someone else' };
}

/** The hidden field that keeps the return URL through the sign-out form's POST. */
export function returnField(rd: string): string {
  return rd === '/' ? '' : `<input type="hidden" name="rd" value="${escapeHtml(rd)}">`;
}

/** The signed-out page: a way back in, and back to where the user came from (or /). */
export function signedOutBody(rd: string): string {
  const back = rd === '/' ? 'Go to the start page' : 'Go back';
  return `<p>You are signed out.</p>\n${linksHtml([
    { href: `${LOGIN_PATH}?rd=${encodeURIComponent(rd)}`, label: 'Sign in' },
    { href: rd, label: back },
  ])}`;
}
