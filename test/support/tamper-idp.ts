// The demo IdP behind a man-in-the-middle HTTP proxy, and a Gatehouse that only knows the proxy.
// The IdP advertises the proxy's URL as its issuer, so discovery, the browser's visits, the token
// request and the JWKS all pass through the proxy. The proxy forwards every request unchanged
// except the JSON answer of the token endpoint, whose `id_token` a test can replace. The IdP signs
// with a key the test knows (idpSigningKey), so a test can also forge tokens "as the IdP".
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { startDemoIdp, type DemoIdp, type DemoIdpOptions } from '../../src/demo/idp.ts';
import { CLIENT_ID, CLIENT_SECRET, idpSigningKey } from './oidc.ts';
import { freePort } from './ports.ts';
import { startTestGatehouse, type StartedGatehouse } from './start-gatehouse.ts';

export type IdpKey = Awaited<ReturnType<typeof idpSigningKey>>;

/** Replace the ID token in the token endpoint's answer (receives the genuine one). */
export type IdTokenMutation = (idToken: string) => string | Promise<string>;

export interface TamperProxy {
  readonly url: string;
  /** Where requests go (set once the IdP listens). */
  target: string | undefined;
  /** Path of the token endpoint, whose answers are rewritten. */
  tokenPath: string | undefined;
  mutation: IdTokenMutation | undefined;
  /** Token endpoint answers seen, and how many of them were rewritten. */
  readonly stats: { tokenResponses: number; rewritten: number };
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade']);

function responseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/** A plain forwarding proxy on 127.0.0.1. The Host header is passed through unchanged, so the IdP builds its URLs with the proxy's address. */
export async function startTamperProxy(): Promise<TamperProxy> {
  const proxy: TamperProxy = {
    url: '',
    target: undefined,
    tokenPath: undefined,
    mutation: undefined,
    stats: { tokenResponses: 0, rewritten: 0 },
    close: async () => {},
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    if (!proxy.target) {
      res.writeHead(503).end('tamper proxy: no target yet');
      return;
    }
    const target = new URL(proxy.target);
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, connection: 'close' },
        agent: false,
      },
      (up) => {
        const path = (req.url ?? '/').split('?')[0];
        const isToken = req.method === 'POST' && path === proxy.tokenPath;
        if (!isToken) {
          res.writeHead(up.statusCode ?? 502, responseHeaders(up.headers));
          up.pipe(res);
          return;
        }
        proxy.stats.tokenResponses++;
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          void (async () => {
            let body = Buffer.concat(chunks);
            const mutation = proxy.mutation;
            if (mutation && up.statusCode === 200) {
              const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
              if (typeof json.id_token === 'string') {
                json.id_token = await mutation(json.id_token);
                body = Buffer.from(JSON.stringify(json));
                proxy.stats.rewritten++;
              }
            }
            res.writeHead(up.statusCode ?? 502, { ...responseHeaders(up.headers), 'content-length': String(body.length) });
            res.end(body);
          })().catch((err: unknown) => {
            res.writeHead(502, { 'content-type': 'text/plain' }).end(`tamper proxy: ${(err as Error).message}`);
          });
        });
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`tamper proxy: ${err.message}`);
    });
    req.pipe(upstream);
  };

  const server = createServer(forward);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  Object.assign(proxy, {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
  return proxy;
}

export interface TamperSetup {
  readonly idp: DemoIdp;
  readonly proxy: TamperProxy;
  /** The issuer everyone sees: the proxy's URL. */
  readonly issuer: string;
  /** The IdP's signing key (private), to forge tokens as the IdP. */
  readonly key: IdpKey;
  readonly gh: StartedGatehouse;
}

/** Proxy, IdP (issuer = proxy URL, known signing key) and a Gatehouse using the proxy as issuer; all stopped after the test. */
export async function startTamperSetup(
  upstreamUrl: string,
  idpOptions: Pick<DemoIdpOptions, 'accessTokenTtlSec' | 'idTokenTtlSec'> = {},
): Promise<TamperSetup> {
  const key = await idpSigningKey();
  const proxy = await startTamperProxy();
  onTestFinished(() => proxy.close());
  const ghPort = await freePort();
  const ghUrl = `http://127.0.0.1:${ghPort}`;
  const idp = await startDemoIdp({
    ...idpOptions,
    issuer: proxy.url,
    jwks: key.jwks,
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${ghUrl}/.gatehouse/oidc/corp/callback`] }],
  });
  onTestFinished(() => idp.close());
  proxy.target = `http://127.0.0.1:${(idp.server.address() as AddressInfo).port}`;

  const discovery = await fetch(`${proxy.url}/.well-known/openid-configuration`);
  if (!discovery.ok) throw new Error(`discovery through the tamper proxy failed: ${discovery.status}`);
  const metadata = (await discovery.json()) as { issuer: string; token_endpoint: string };
  if (metadata.issuer !== proxy.url) throw new Error(`the IdP advertises issuer ${metadata.issuer}, expected ${proxy.url}`);
  const tokenEndpoint = new URL(metadata.token_endpoint);
  if (tokenEndpoint.origin !== proxy.url) throw new Error(`the token endpoint ${tokenEndpoint.href} bypasses the proxy`);
  proxy.tokenPath = tokenEndpoint.pathname;

  const gh = await startTestGatehouse({
    log_level: 'silent',
    server: { listen: `127.0.0.1:${ghPort}`, public_url: ghUrl, shutdown_timeout: '1s' },
    admin: { listen: '127.0.0.1:0' },
    session: { store: 'memory', secret: 'oidc-test-session-secret-0123456789abcdef', cookie: { secure: false } },
    identity_providers: [
      {
        id: 'corp',
        type: 'oidc',
        issuer: proxy.url,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        scopes: ['openid', 'email', 'profile', 'groups'],
      },
    ],
    routes: [{ name: 'app', path: '/', upstream: upstreamUrl, allow: { authenticated: true } }],
  });
  await gh.current().providers.oidc.get('corp')!.ready();
  return { idp, proxy, issuer: proxy.url, key, gh };
}
