// Small HTTP client helpers for tests: a raw request over TCP (so a path reaches the server exactly
// as written, which fetch would normalise), and a JSON GET.
import { connect } from 'node:net';
import { request } from 'undici';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Send `head` (request line + headers, without the final blank line) and read until close. */
export function rawRequest(baseUrl: string, head: string, body = ''): Promise<RawResponse> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    sock.setTimeout(5000, () => sock.destroy(new Error('raw request timed out')));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [headPart = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = headPart.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    sock.write(`${head}\r\nconnection: close\r\n\r\n${body}`);
  });
}

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  const res = await request(url, { headers: { accept: 'application/json', ...headers } });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.statusCode, headers: res.headers, body };
}

/** `n` JSON requests to `url`, `concurrency` at a time; how many got each status. */
export async function burst(
  url: string,
  n: number,
  concurrency: number,
  headers: Record<string, string> = {},
): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await request(url, { headers: { accept: 'application/json', ...headers } });
      await r.body.dump();
      counts[r.statusCode] = (counts[r.statusCode] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}
