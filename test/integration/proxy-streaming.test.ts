// Bodies stream both ways without buffering: 200 MB each way, hashed at both ends, and an SSE
// stream whose first events arrive while the response is still open.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
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
  it('streams a 200 MB chunked upload to the upstream intact, without buffering it', async () => {
    let firstChunkAt = 0;
    const up = await startUpstream((req) => {
      if (req.url === '/upload') req.once('data', () => (firstChunkAt = performance.now()));
      return false;
    });
    const gh = await startTestGatehouse(baseConfig(up.url));
    const body = patternStream(SIZE);
    let sourceDoneAt = 0;
    body.once('end', () => (sourceDoneAt = performance.now()));
    const res = await request(`${gh.url}/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    const result = (await res.body.json()) as { size: number; sha256: string };
    expect(res.statusCode).toBe(200);
    expect(result.size).toBe(SIZE);
    expect(result.sha256).toBe(patternHash(SIZE));
    // A buffering proxy would forward nothing before the client had sent everything.
    expect(firstChunkAt).toBeGreaterThan(0);
    expect(firstChunkAt).toBeLessThan(sourceDoneAt);
  });

  it('streams a 200 MB download to the client intact', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(baseConfig(up.url));
    let upstreamDoneAt = 0;
    up.server.on('request', (_req, res) => res.once('finish', () => (upstreamDoneAt = performance.now())));
    const res = await request(`${gh.url}/download?bytes=${SIZE}`);
    const firstByteAt = performance.now();
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
    // The client had the response before the upstream finished writing it: streamed, not buffered.
    expect(firstByteAt).toBeLessThan(upstreamDoneAt);
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
