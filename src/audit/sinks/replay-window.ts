// The replay window of plain TCP/TLS syslog. A record handed to the kernel is not a record the
// receiver kept: if the receiver crashes, whatever sat in its socket buffer and queues is gone, and
// plain syslog has no acknowledgement to tell. So the sink remembers what it wrote in the last
// `windowMs` (at most `maxRecords` frames) and, when a connection breaks, sends those frames again
// on the next one. Receivers see duplicates within the window and drop them by boot id + sequence
// (ECS gatehouse.boot_id + event.sequence): at-least-once for breaks noticed within the window.
// RELP does better.

export class ReplayWindow {
  readonly #windowMs: number;
  readonly #max: number;
  #frames: Buffer[] = [];
  #times: number[] = [];
  #head = 0;

  constructor(windowMs: number, maxRecords: number) {
    this.#windowMs = windowMs;
    this.#max = windowMs > 0 ? maxRecords : 0;
  }

  get size(): number {
    return this.#frames.length - this.#head;
  }

  /** Frames that reached the kernel at `now`. */
  written(frames: readonly Buffer[], now: number): void {
    if (this.#max === 0) return;
    for (const f of frames.length > this.#max ? frames.slice(-this.#max) : frames) {
      this.#frames.push(f);
      this.#times.push(now);
    }
    this.#trim(now - this.#windowMs);
  }

  /**
   * The frames to send again after a connection that broke at `brokenAt`: those written in the
   * window before it, oldest first. They count as written again now (the next break may need them).
   */
  replay(brokenAt: number, now: number): Buffer[] {
    this.#trim(brokenAt - this.#windowMs);
    const out = this.#frames.slice(this.#head);
    for (let i = this.#head; i < this.#times.length; i++) this.#times[i] = now;
    return out;
  }

  #trim(oldest: number): void {
    while (this.#head < this.#frames.length && (this.size > this.#max || this.#times[this.#head]! < oldest)) this.#head++;
    // Compact now and then rather than shifting on every record.
    if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }
}
