// Bodies stream both ways without buffering: 200 MB each way, hashed at both ends, and an SSE
// stream whose first events arrive while the response is still open.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { patternChunk, startUpstream } from '../support/upstream.ts';

const SIZE = 200 * 1024 * 1024;
const CHUNK = 64 * 1024;

function patternStream(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, total - sent);
      this.push(patternChunk(sent, n));
      sent += n;
    },
  });
}

function patternHash(total: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < total; off += CHUNK) h.update(patternChunk(off, Math.min(CHUNK, total - off)));
  return h.digest('hex');
}

describe('streaming', () => {
  it('streams a 200 MB chunked upload to the upstream intact', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const before = process.memoryUsage().rss;
    const res = await request(`${gh.url}/upload`, { method: 'POST', body: patternStream(SIZE), headers: { 'content-type': 'application/octet-stream' } });
    const body = (await res.body.json()) as { size: number; sha256: string };
    expect(res.statusCode).toBe(200);
    expect(body.size).toBe(SIZE);
    expect(body.sha256).toBe(patternHash(SIZE));
    // Everything runs in this process: had the proxy buffered the body, RSS would grow by ~200 MB.
    expect(process.memoryUsage().rss - before).toBeLessThan(120 * 1024 * 1024);
  });

  it('streams a 200 MB download to the client intact', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const res = await request(`${gh.url}/download?bytes=${SIZE}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(SIZE));
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of res.body) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    expect(size).toBe(SIZE);
    expect(h.digest('hex')).toBe(patternHash(SIZE));
  });

  it('delivers server-sent events as they are produced', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    const res = await request(`${gh.url}/sse`, { headers: { accept: 'text/event-stream' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    let text = '';
    for await (const chunk of res.body) {
      text += String(chunk);
      if (text.includes('tick 2')) break; // the upstream never ends this stream
    }
    expect(text).toContain('data: tick 0\n\n');
    expect(text).toContain('data: tick 2');
  });
});
