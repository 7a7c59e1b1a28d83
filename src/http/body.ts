// Small request bodies Gatehouse reads itself (forms on internal endpoints), with a hard size cap.
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors.ts';
import { onBodyTimeout } from './body-guard.ts';

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  // A body too slow to arrive ends the read with 408 (the listener's body guard decides when).
  let unguard = () => {};
  const stalled = new Promise<never>((_, reject) => {
    unguard = onBodyTimeout(req, reject);
  });
  stalled.catch(() => {});
  try {
    return await Promise.race([readAll(req, limit), stalled]);
  } finally {
    unguard();
  }
}

async function readAll(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new GatehouseError('GH_PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.destroy();
      throw new GatehouseError('GH_PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readFormBody(req: IncomingMessage, limit: number): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  return new URLSearchParams((await readBody(req, limit)).toString('utf8'));
}
