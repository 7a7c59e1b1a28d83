// A Shared Signals transmitter for tests: a real ES256 key pair, its JWKS served over HTTP on
// 127.0.0.1 (OS-chosen port, closed when the test finishes), SETs signed with jose, and a push
// helper that POSTs one as RFC 8935 asks.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { request } from 'undici';
import { onTestFinished } from 'vitest';

export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export const ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
export const ACCOUNT_ENABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-enabled';

export const RECEIVER_AUDIENCE = 'https://gatehouse.test/ssf';

export interface SignOptions {
  /** JOSE header typ; null leaves it out. Default "secevent+jwt". */
  readonly typ?: string | null;
  /** Sign with another key (same kid): the signature cannot verify. */
  readonly foreignKey?: boolean;
  readonly kid?: string;
}

export interface TestTransmitter {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** JWKS fetches so far. */
  fetches(): number;
  /** The config entry for ssf.transmitters. */
  entry(over?: Record<string, unknown>): Record<string, unknown>;
  /** iss, aud, iat (now), jti (random) plus `claims`, signed ES256. */
  sign(claims: JWTPayload, options?: SignOptions): Promise<string>;
  /** A SET with one event about `email` (sub_id format email). */
  event(type: string, email: string, over?: JWTPayload, options?: SignOptions): Promise<string>;
}

export async function startTransmitter(issuer = 'https://transmitter.test'): Promise<TestTransmitter> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches++;
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  server.unref();
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;

  const sign = async (claims: JWTPayload, o: SignOptions = {}) => {
    const header: Record<string, unknown> = { alg: 'ES256', kid: o.kid ?? 'k1' };
    if (o.typ !== null) header.typ = o.typ ?? 'secevent+jwt';
    return new SignJWT({ iss: issuer, aud: RECEIVER_AUDIENCE, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ...claims })
      .setProtectedHeader(header as { alg: string })
      .sign(o.foreignKey ? other.privateKey : privateKey);
  };
  return {
    issuer,
    jwksUrl,
    fetches: () => fetches,
    entry: (over = {}) => ({ issuer, jwks_url: jwksUrl, audience: RECEIVER_AUDIENCE, ...over }),
    sign,
    event: (type, email, over = {}, options) =>
      sign(
        { sub_id: { format: 'email', email }, events: { [type]: { event_timestamp: Math.floor(Date.now() / 1000) } }, ...over },
        options,
      ),
  };
}

/** POST a SET to a Gatehouse as RFC 8935 push; the status and the parsed JSON body (if any). */
export async function pushSet(
  baseUrl: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Record<string, string | string[] | undefined> }> {
  const r = await request(`${baseUrl}/.gatehouse/ssf/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json', ...headers },
    body,
  });
  const text = await r.body.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: r.statusCode, body: parsed, headers: r.headers };
}
