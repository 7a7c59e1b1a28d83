// Paces spool drains so that requests keep the event loop. A drain is background work: its batches
// go out at most `rate` records/s, and whenever the event loop has been late since the previous
// batch (requests waiting behind it, a busy machine, GC) the pause grows, easing back as the lag
// goes. The pause never exceeds MAX_PAUSE_MS per batch, nor what would let records arriving in the
// spool outpace the drain, so a drain always makes progress.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Event-loop lag (beyond the sampling resolution) that counts as requests being held up. */
const LAG_MS = 10;
const RESOLUTION_MS = 10;
const MAX_PAUSE_MS = 500;
/** Switch the lag sampler off after this long without a drain. */
const IDLE_MS = 5_000;

export class DrainPacer {
  readonly #rate: number;
  #h: ReturnType<typeof monitorEventLoopDelay> | undefined;
  #backoff = 1;
  #lastUse = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  /** `rate`: records per second at most. */
  constructor(rate: number) {
    this.#rate = rate;
  }

  /**
   * The pause before the next batch, after one of `records` went out and `tookMs` passed since it
   * started. `arriving`: records/s being added to the spool meanwhile; the drain stays at least
   * twice as fast, or the spool would never empty under steady traffic.
   */
  pause(records: number, tookMs: number, arriving = 0): number {
    this.#lastUse = Date.now();
    if (!this.#h) {
      this.#h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.#h.enable();
      this.#idleTimer = setInterval(() => {
        if (Date.now() - this.#lastUse > IDLE_MS) this.#stop();
      }, IDLE_MS);
      this.#idleTimer.unref();
    }
    const lag = this.#h.count > 0 ? this.#h.max / 1e6 - RESOLUTION_MS : 0;
    this.#h.reset();
    this.#backoff = lag > LAG_MS ? Math.min(this.#backoff * 2, 64) : Math.max(1, this.#backoff / 2);
    const paced = (records * 1000) / this.#rate - tookMs;
    const keepUp = arriving > 0 ? (records * 1000) / (2 * arriving) - tookMs : MAX_PAUSE_MS;
    return Math.max(0, Math.min(MAX_PAUSE_MS, keepUp, Math.max(0, paced) + (this.#backoff > 1 ? this.#backoff * RESOLUTION_MS : 0)));
  }

  #stop(): void {
    this.#h?.disable();
    this.#h = undefined;
    clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#backoff = 1;
  }

  close(): void {
    this.#stop();
  }
}
