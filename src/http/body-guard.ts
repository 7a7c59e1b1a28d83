// Slow request bodies. A client that sends headers and then trickles its body (slow POST, "R U Dead
// Yet") holds a socket — and, once proxied, an upstream connection — for as long as it likes. The
// listener watches every body (createBodyWatch): one that pauses longer than `idleMs`, or that
// falls below `minRate` bytes per second once `idleMs` has passed (Apache mod_reqtimeout's
// MinRate), is ended with 408 GH_REQUEST_TIMEOUT and the connection is closed. Time spent waiting
// for Gatehouse or the upstream to read (backpressure, a queued request) is never blamed on the
// client. Whoever consumes the body (the proxy, readBody) registers with onBodyTimeout to answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { GatehouseError } from '../errors.ts';

export interface BodyLimits {
  /** Longest pause between two pieces of the body. */
  readonly idleMs: number;
  /** Bytes per second the body must average after `idleMs`; 0 = no minimum. */
  readonly minRate: number;
}

type Answer = (err: GatehouseError) => void;
const answers = new WeakMap<IncomingMessage, Answer>();
const expired = new WeakMap<IncomingMessage, GatehouseError>();

/**
 * `answer` ends this request with the 408 it is given when the body is too slow (it runs at most
 * once, at once if the body already timed out). Returns the undo, for when the body is done with.
 */
export function onBodyTimeout(req: IncomingMessage, answer: Answer): () => void {
  const err = expired.get(req);
  if (err) {
    let cancelled = false;
    queueMicrotask(() => {
      if (!cancelled) answer(err);
    });
    return () => {
      cancelled = true;
    };
  }
  answers.set(req, answer);
  return () => {
    if (answers.get(req) === answer) answers.delete(req);
  };
}

/** A request carries a body when it declares a length above 0 or a transfer coding. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

interface Watched {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly socket: Socket;
  readonly start: number;
  readonly startBytes: number;
  bytes: number;
  progressAt: number;
  tickAt: number;
  /** Time the body sat unread on our side: not the client's fault. */
  ourMs: number;
}

export interface BodyWatch {
  watch(req: IncomingMessage, res: ServerResponse): void;
  readonly size: number;
  close(): void;
}

/** One timer for all bodies in flight (like Node's own headers check), not one per request. */
export function createBodyWatch(limits: () => BodyLimits): BodyWatch {
  const watched = new Set<Watched>();
  let timer: NodeJS.Timeout | undefined;

  const tick = () => {
    const l = limits();
    const now = performance.now();
    for (const w of watched) {
      if (w.req.complete || w.socket.destroyed) {
        watched.delete(w);
        continue;
      }
      const verdict = judge(w, now, l);
      if (verdict === undefined) continue;
      watched.delete(w);
      try {
        endBody(w, verdict, l);
      } catch {
        // Runs from a timer: a failure to answer must end this connection, not the process.
        w.socket.destroy();
      }
    }
    if (watched.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    watch(req, res) {
      if (!hasBody(req) || req.complete) return;
      const socket = req.socket;
      const now = performance.now();
      const bytes = socket.bytesRead;
      watched.add({ req, res, socket, start: now, startBytes: bytes, bytes, progressAt: now, tickAt: now, ourMs: 0 });
      if (!timer) {
        // Checked often enough to cut within about a quarter of the limit past it.
        timer = setInterval(tick, Math.min(1000, Math.max(25, limits().idleMs / 4)));
        timer.unref();
      }
    },
    get size() {
      return watched.size;
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      watched.clear();
    },
  };
}

/** Notes what arrived since the last tick; 'idle' or 'slow' when the body must be cut now. */
function judge(w: Watched, now: number, l: BodyLimits): 'idle' | 'slow' | undefined {
  const dt = now - w.tickAt;
  w.tickAt = now;
  const bytes = w.socket.bytesRead;
  if (bytes !== w.bytes) {
    w.bytes = bytes;
    w.progressAt = now;
  } else if (w.req.readableLength >= w.req.readableHighWaterMark) {
    // Node stopped reading the socket because what arrived is still unread: we (or the
    // upstream) are the slow side. Below that mark the socket is read, so a silent one is idle.
    w.progressAt = now;
    w.ourMs += dt;
  }
  if (now - w.progressAt > l.idleMs) return 'idle';
  if (l.minRate > 0 && now - w.start - w.ourMs > l.idleMs + ((bytes - w.startBytes) / l.minRate) * 1000) return 'slow';
  return undefined;
}

/** 408 through whoever consumes the body (onBodyTimeout), and the connection closes. */
function endBody(w: Watched, verdict: 'idle' | 'slow', l: BodyLimits): void {
  const err = new GatehouseError(
    'GH_REQUEST_TIMEOUT',
    verdict === 'idle'
      ? `The request body stopped arriving (nothing for ${Math.round((l.idleMs / 1000) * 10) / 10}s).`
      : `The request body arrived too slowly (under ${l.minRate} bytes per second).`,
  );
  expired.set(w.req, err);
  const { res, socket } = w;
  if (!res.headersSent) res.setHeader('connection', 'close');
  const answer = answers.get(w.req);
  answers.delete(w.req);
  if (answer) answer(err);
  else if (res.headersSent) {
    // Answered already (the body was not needed): nothing left to say, only a socket to free.
    socket.destroy();
    return;
  }
  // Whoever answers, and however slowly the client reads the answer, the connection ends.
  const last = setTimeout(() => socket.destroy(), Math.max(1000, l.idleMs));
  last.unref();
  socket.once('close', () => clearTimeout(last));
}
