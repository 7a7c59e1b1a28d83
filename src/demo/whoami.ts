// The demo upstream: echoes the request it received (method, path, headers) as an HTML page, and
// as JSON at /whoami.json. It shows what Gatehouse sends an application, identity headers included.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { escapeHtml } from '../http/pages.ts';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  remote_address: string | undefined;
}

function echo(req: IncomingMessage): Echo {
  return { method: req.method ?? '', url: req.url ?? '', headers: req.headers, remote_address: req.socket.remoteAddress };
}

function page(e: Echo): string {
  const rows = Object.entries(e.headers)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => {
      const highlight = k.startsWith('x-forwarded-') || k.startsWith('x-gatehouse-') || k === 'x-request-id';
      return `<tr${highlight ? ' class="gh"' : ''}><th>${escapeHtml(k)}</th><td>${escapeHtml(Array.isArray(v) ? v.join(', ') : String(v))}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>whoami · Gatehouse demo upstream</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2330}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e2e5ea;vertical-align:top}
th{font-weight:600;white-space:nowrap;width:1%}td{font-family:ui-monospace,Menlo,monospace;word-break:break-all}
tr.gh{background:#eef6ff}code{background:#f1f3f6;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>whoami</h1>
<p>This is the demo upstream behind Gatehouse. It received <code>${escapeHtml(e.method)} ${escapeHtml(e.url)}</code> with these headers
(the ones Gatehouse sets are highlighted). JSON: <a href="/whoami.json">/whoami.json</a>.</p>
<table>${rows}</table></body></html>
`;
}

export function createWhoamiServer(): Server {
  return createServer((req, res) => {
    const e = echo(req);
    if ((req.url ?? '').split('?')[0] === '/whoami.json') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(`${JSON.stringify(e, null, 2)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : page(e));
  });
}
