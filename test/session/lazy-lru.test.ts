// The bounded map behind the session caches: about LRU, with a hit moving its entry only once per
// max/2 insertions, and every operation O(1).
import { describe, expect, it } from 'vitest';
import { LazyLru } from '../../src/session/lazy-lru.ts';

describe('LazyLru', () => {
  it('never holds more than max entries', () => {
    const m = new LazyLru<number, number>(5);
    for (let i = 0; i < 100; i++) {
      m.set(i, i);
      if (i % 3 === 0) m.get(i - 1);
      expect(m.size).toBeLessThanOrEqual(5);
    }
    expect(m.size).toBe(5);
  });

  it('keeps an entry read between inserts through any number of entries never read again', () => {
    const m = new LazyLru<string, number>(4);
    m.set('hot', 0);
    for (let i = 0; i < 1000; i++) {
      expect(m.get('hot')).toBe(0);
      m.set(`cold${i}`, i);
    }
    expect(m.peek('hot')).toBe(0);
    // The cold ones went oldest first: the newest three remain.
    expect(['cold997', 'cold998', 'cold999'].map((k) => m.peek(k))).toEqual([997, 998, 999]);
    expect(m.peek('cold996')).toBeUndefined();
  });

  it('keeps an entry read once every max/2 insertions; forgets one read less often', () => {
    const max = 100;
    const m = new LazyLru<string, number>(max);
    m.set('hot', 1);
    m.set('warm', 2);
    for (let i = 0; i < 10 * max; i++) {
      if (i % (max / 2) === 0) expect(m.get('hot')).toBe(1);
      if (i % (2 * max) === 0) m.get('warm');
      m.set(`cold${i}`, i);
    }
    expect(m.peek('hot')).toBe(1);
    expect(m.peek('warm')).toBeUndefined();
  });

  it('evicts the oldest entry not moved since; a recent entry is not moved by a read', () => {
    const m = new LazyLru<string, number>(4);
    for (const k of ['a', 'b', 'c', 'd']) m.set(k, 0);
    // a was put 3 insertions ago, at least max/2 = 2: the read moves it. d was just put: it stays.
    m.get('a');
    m.get('d');
    m.set('e', 0);
    expect(m.peek('b')).toBeUndefined();
    expect(['a', 'c', 'd', 'e'].map((k) => m.peek(k))).toEqual([0, 0, 0, 0]);
    m.set('f', 0);
    expect(m.peek('c')).toBeUndefined();
    m.set('g', 0); // d was read before it was old enough to move: it is the oldest now
    expect(m.peek('d')).toBeUndefined();
    expect(m.peek('a')).toBe(0);
  });

  it('peek does not count as a read; set of a present key moves it to the newest end; replace keeps its place', () => {
    const m = new LazyLru<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.peek('a');
    m.set('c', 3);
    expect(m.peek('a')).toBeUndefined();
    m.set('b', 20); // now newest: c is the oldest
    m.set('d', 4);
    expect(m.peek('c')).toBeUndefined();
    expect(m.replace('b', 21)).toBe(true);
    expect(m.replace('gone', 0)).toBe(false);
    m.set('e', 5); // b is older than d: it goes despite the replace
    expect(m.peek('b')).toBeUndefined();
    expect([m.peek('d'), m.peek('e')]).toEqual([4, 5]);
  });

  it('delete and clear forget entries', () => {
    const m = new LazyLru<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    expect(m.delete('a')).toBe(true);
    expect(m.get('a')).toBeUndefined();
    m.clear();
    expect(m.size).toBe(0);
  });

  it('an insert after every entry was read forgets one entry and keeps the bound', () => {
    const max = 50_000;
    const m = new LazyLru<number, number>(max);
    for (let i = 0; i < max; i++) m.set(i, i);
    for (let i = 0; i < max; i++) m.get(i);
    m.set(-1, 0);
    expect(m.size).toBe(max);
    expect(m.peek(-1)).toBe(0);
  });
});
