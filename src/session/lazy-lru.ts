// A bounded map that forgets about the least recently used entry first, at O(1) for every
// operation. Exact LRU moves an entry to the newest end on every hit (Map.delete + Map.set), which
// cost more than the rest of a cached session lookup, twice per request. Here a hit moves its entry
// only when at least max/2 entries were put at the newest end (inserted or moved) since it was: a
// hot entry moves about once per max/2 insertions, not once per read. Eviction takes the oldest
// entry, which was not read since half the map's turnover ago, so an entry read more often than
// that is never the one forgotten (unless dropped entries shrink the queue in front of it). CLOCK
// was tried first: its eviction walk re-inserts every entry read since the last walk, 20-40 ms in
// one call for a full 50,000-entry cache.

interface Slot<V> {
  value: V;
  /** The insertion count when this entry was last put at the newest end. */
  movedAt: number;
}

export class LazyLru<K, V> {
  readonly #slots = new Map<K, Slot<V>>();
  readonly #max: number;
  readonly #moveAfter: number;
  /** Entries put at the newest end so far (inserted or moved). */
  #appended = 0;

  constructor(max: number) {
    this.#max = Math.max(1, max);
    this.#moveAfter = Math.floor(this.#max / 2);
  }

  /** The value, counted as a use. */
  get(key: K): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (this.#appended - slot.movedAt >= this.#moveAfter) {
      this.#slots.delete(key);
      slot.movedAt = ++this.#appended;
      this.#slots.set(key, slot);
    }
    return slot.value;
  }

  /** The value without counting it as a use. */
  peek(key: K): V | undefined {
    return this.#slots.get(key)?.value;
  }

  /** Insert or replace at the newest end, forgetting the oldest entry first when full. */
  set(key: K, value: V): void {
    const slots = this.#slots;
    if (!slots.delete(key) && slots.size >= this.#max) {
      const oldest = slots.keys().next();
      if (!oldest.done) slots.delete(oldest.value);
    }
    slots.set(key, { value, movedAt: ++this.#appended });
  }

  /** Replace the value of a present key in place (its age kept); false when absent. */
  replace(key: K, value: V): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    slot.value = value;
    return true;
  }

  delete(key: K): boolean {
    return this.#slots.delete(key);
  }

  clear(): void {
    this.#slots.clear();
  }

  get size(): number {
    return this.#slots.size;
  }
}
