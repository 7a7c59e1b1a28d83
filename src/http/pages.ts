// The few pages Gatehouse renders itself (errors, the sign-in chooser, the IdP retry and logout
// pages): small, dependency-free HTML with every dynamic value escaped, and one style sheet.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface PageContent {
  readonly status: number;
  readonly title: string;
  readonly message: string;
  readonly requestId: string;
}

/** The one style sheet of every page (inline: PAGE_CSP allows nothing else). */
const STYLE = `body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f7f9;color:#1d2330;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border:1px solid #e2e5ea;border-radius:10px;padding:2rem 2.5rem;max-width:34rem;box-shadow:0 1px 3px #0001}
h1{font-size:1.25rem;margin:0 0 .75rem}.code{color:#6b7385;font-weight:400}
p{margin:.5rem 0}.rid{font:13px ui-monospace,Menlo,Consolas,monospace;color:#6b7385;margin-top:1.5rem}
button{font:inherit;padding:.4rem 1rem;border-radius:6px;border:1px solid #2f5bd3;background:#2f5bd3;color:#fff;cursor:pointer}`;

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
<p class="rid">Request ID: ${escapeHtml(p.requestId)}</p>
</main></body></html>
`;
}
