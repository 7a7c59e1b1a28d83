// The floor for any Node.js proxy on this machine: node:http in front, an undici Pool behind, and
// nothing else (no session, policy, identity headers or audit). bench:compare starts it as the
// "node-floor" row, so Gatehouse's own cost reads as Gatehouse / node-floor, apart from what Node,
// undici and the kernel cost every Node proxy. Not a product: it forwards GET as it comes.
// Usage: node bench/node-floor.ts PORT UPSTREAM_PORT
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const port = Number(process.argv[2]);
const upstreamPort = Number(process.argv[3]);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });
const HOP = new Set(['connection', 'keep-alive', 'host', 'cookie', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection']);

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const name in req.headers) {
    const v = req.headers[name];
    if (v !== undefined && !HOP.has(name)) headers[name] = v;
  }
  headers.host = `127.0.0.1:${upstreamPort}`;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart(_c, status, h: IncomingHttpHeaders) {
      const out: Record<string, string | string[]> = {};
      for (const name in h) {
        const v = h[name];
        if (v !== undefined && !HOP.has(name)) out[name] = v;
      }
      res.writeHead(status, out);
    },
    onResponseData(_c, chunk) {
      res.write(chunk);
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError() {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    },
  };
  pool.dispatch({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: null }, handler);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
