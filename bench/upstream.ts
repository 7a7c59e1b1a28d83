// The fixed tiny upstream every benchmark row proxies to: 2-byte body, keep-alive, one process.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
