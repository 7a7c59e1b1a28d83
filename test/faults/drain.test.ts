// Issue 12, item 7: SIGTERM drains without resetting keep-alive clients. `gatehouse start` runs as
// a child process; keep-alive clients on raw sockets send GETs and POSTs back to back while
// SIGTERM arrives, and every request is accounted for: a full response, or a connection that was
// closed (or refused) before the request was written. A request written and then cut (reset, or
// closed without an answer) is a loss, and there must be none. Then: requests still running at
// shutdown_timeout get the 503 GH_SHUTTING_DOWN answer instead of a reset.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startGatehouseChild, writeAuditConfig } from '../support/audit-gatehouse.ts';
import { parseResponses, type RawResponse } from '../support/raw-http.ts';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

interface Tally {
  /** Complete responses, by status. */
  readonly statuses: Record<number, number>;
  /** Responses that carried `Connection: close`. */
  withClose: number;
  /** Connections that ended before the next request was written (clean: nothing was sent). */
  closedBeforeSend: number;
  /** Connection attempts refused (the listener is closed: nothing was sent). */
  refused: number;
  /** Requests written whose connection ended without a complete response. */
  lost: number;
  /** How each loss ended (socket error code, or "closed"). */
  readonly lostHow: string[];
}

const newTally = (): Tally => ({ statuses: {}, withClose: 0, closedBeforeSend: 0, refused: 0, lost: 0, lostHow: [] });
const answered = (t: Tally) => Object.values(t.statuses).reduce((a, b) => a + b, 0);

type Outcome = { kind: 'response'; response: RawResponse } | { kind: 'ended'; how: string };

/** One keep-alive connection that remembers whether the server ended it, and parses answers. */
class KeepAliveConnection {
  private buf = Buffer.alloc(0);
  ended: string | undefined;
  private wake: (() => void) | undefined;
  private readonly socket: Socket;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake?.();
    });
    socket.on('end', () => {
      this.ended ??= 'closed';
      this.wake?.();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.ended ??= e.code ?? e.message;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended ??= 'closed';
      this.wake?.();
    });
  }

  static open(port: number): Promise<KeepAliveConnection | 'refused'> {
    return new Promise((resolve) => {
      const s = connect({ port, host: '127.0.0.1', noDelay: true });
      s.once('connect', () => resolve(new KeepAliveConnection(s)));
      s.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED') resolve('refused');
      });
    });
  }

  /** Write one request and wait for its complete answer or the end of the connection. */
  async exchange(request: string, timeoutMs: number): Promise<Outcome> {
    this.socket.write(request);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = parseResponses(this.buf, { ended: this.ended !== undefined });
      if (p.responses.length > 0) {
        const response = p.responses[0]!;
        this.buf = Buffer.from(p.rest);
        return { kind: 'response', response };
      }
      if (this.ended !== undefined) return { kind: 'ended', how: this.ended };
      if (Date.now() > deadline) return { kind: 'ended', how: 'timeout' };
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Wait (bounded) until the server closes the connection after a `Connection: close` answer. */
  async closed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.ended === undefined && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return this.ended !== undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * A client sending requests back to back on keep-alive connections (a GET, then a POST with a
 * body, ...), opening a new connection when the server closes one, until a connection is refused
 * or `deadline` passes.
 */
async function keepAliveClient(port: number, id: number, tally: Tally, deadline: number): Promise<void> {
  let n = 0;
  while (Date.now() < deadline) {
    const conn = await KeepAliveConnection.open(port);
    if (conn === 'refused') {
      tally.refused++;
      return;
    }
    try {
      while (Date.now() < deadline) {
        if (conn.ended !== undefined) {
          tally.closedBeforeSend++;
          break;
        }
        const i = n++;
        const body = `payload ${id}/${i} `.repeat(8);
        const request =
          i % 2 === 0
            ? `GET /work/${id}/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
            : `POST /work/${id}/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
        const out = await conn.exchange(request, 15_000);
        if (out.kind === 'ended') {
          tally.lost++;
          tally.lostHow.push(out.how);
          break;
        }
        tally.statuses[out.response.status] = (tally.statuses[out.response.status] ?? 0) + 1;
        if (out.response.header('connection')?.toLowerCase() === 'close') {
          tally.withClose++;
          await conn.closed(5000);
          break;
        }
      }
    } finally {
      conn.destroy();
    }
  }
}

describe('SIGTERM drain', () => {
  it('keep-alive clients sending continuously: every request is answered or was never sent (no resets)', { timeout: 90_000 }, async () => {
    // A small, slightly variable amount of upstream work per request, bodies read in full.
    const up = await startUpstream((req, res) => {
      if (!req.url?.startsWith('/work/')) return false;
      let size = 0;
      req.on('data', (c: Buffer) => (size += c.length));
      req.on('end', () =>
        setTimeout(
          () => {
            const text = JSON.stringify({ url: req.url, size });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
            res.end(text);
          },
          Math.floor(Math.random() * 4),
        ),
      );
      return true;
    });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-fault-drain-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const gh = await startGatehouseChild(writeAuditConfig(dir, up.url, ['sinks: []']));
    const port = Number(new URL(gh.url).port);

    const CLIENTS = 16;
    const tally = newTally();
    const deadline = Date.now() + 45_000;
    const clients = Array.from({ length: CLIENTS }, (_, id) => keepAliveClient(port, id, tally, deadline));
    // SIGTERM lands while every client is busy on an established keep-alive connection.
    await expect.poll(() => answered(tally), { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(800);
    const beforeTerm = answered(tally);
    const exited = gh.stop('SIGTERM');
    await Promise.all(clients);
    expect(await exited).toBe(0);

    const summary = { ...tally, answered: answered(tally), beforeTerm };
    console.log(`drain drill: ${JSON.stringify(summary)}`);
    expect(tally.lost, `requests written and then cut: ${tally.lostHow.join(', ')}`).toBe(0);
    expect(tally.statuses).toEqual({ 200: answered(tally) });
    // Every client saw the drain as a Connection: close answer, then a refused reconnect.
    expect(tally.withClose).toBe(CLIENTS);
    expect(tally.refused).toBe(CLIENTS);
    expect(tally.closedBeforeSend).toBe(0);
    expect(gh.output()).toContain('"msg":"stopped"');
  });

  it('requests still running at shutdown_timeout get 503 GH_SHUTTING_DOWN, not a reset', async () => {
    const up = await startUpstream();
    const gh = await startTestGatehouse(
      { ...baseConfig(up.url), server: { listen: '127.0.0.1:0', public_url: 'http://127.0.0.1:4180', shutdown_timeout: '300ms' } },
      { keepRunning: true },
    );
    const port = Number(new URL(gh.url).port);
    // Three requests the upstream never answers, on keep-alive connections: JSON, a browser page, a POST.
    const requests = [
      'GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n',
      'GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\n\r\n',
      'POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi',
    ];
    const conns = await Promise.all(requests.map(() => KeepAliveConnection.open(port)));
    const outcomes = conns.map((c, i) => (c as KeepAliveConnection).exchange(requests[i]!, 15_000));
    await expect.poll(() => up.seen.filter((s) => s.url === '/slow').length).toBe(3);
    await gh.shutdown();
    const results = await Promise.all(outcomes);
    for (const c of conns) (c as KeepAliveConnection).destroy();

    const responses = results.map((r) => (r.kind === 'response' ? r.response : r.how));
    expect(responses.map((r) => (typeof r === 'string' ? r : r.status))).toEqual([503, 503, 503]);
    const [json, page, post] = responses as RawResponse[];
    expect(JSON.parse(json!.text())).toMatchObject({ error: 'GH_SHUTTING_DOWN', status: 503 });
    expect(page!.header('content-type')).toContain('text/html');
    expect(page!.text()).toContain('Gatehouse is restarting');
    expect(JSON.parse(post!.text()).error).toBe('GH_SHUTTING_DOWN');
    for (const r of [json, page, post]) {
      expect(r!.header('connection')).toBe('close');
      expect(r!.header('x-request-id')).toBeTruthy();
    }
  });
});
