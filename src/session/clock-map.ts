// A bounded map that forgets roughly the least recently used entry first, at O(1) per hit: CLOCK
// (second chance). A hit only marks its slot; re-inserting on every hit to keep exact LRU order
// (Map.delete + Map.set) cost more than the rest of a cached session lookup, twice per request.
// When full, an insert walks from the oldest end: a marked slot is moved to the newest end with its
// mark cleared, the first unmarked one is forgotten. An entry used since the walk last passed it
// therefore survives any number of inserts of entries never read again.

interface Slot<V> {
  value: V;
  /** Read since it was inserted or last passed by an eviction walk. */
  used: boolean;
}

export class ClockMap<K, V> {
  readonly #slots = new Map<K, Slot<V>>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /** The value, marked as used. */
  get(key: K): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  /** The value without marking it (it does not count as a use). */
  peek(key: K): V | undefined {
    return this.#slots.get(key)?.value;
  }

  /** Insert or replace at the newest end, unmarked, forgetting an entry first when full. */
  set(key: K, value: V): void {
    const slots = this.#slots;
    if (!slots.delete(key) && slots.size >= this.#max) this.#evict();
    slots.set(key, { value, used: false });
  }

  /** Replace the value of a present key in place (its age and mark kept); false when absent. */
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

  #evict(): void {
    const slots = this.#slots;
    // A Map iterator sees entries appended while it runs, so a marked slot moved to the newest end
    // is reached again, unmarked, at the latest after one lap: the walk always ends.
    for (const [key, slot] of slots) {
      slots.delete(key);
      if (!slot.used) return;
      slot.used = false;
      slots.set(key, slot);
    }
  }
}
