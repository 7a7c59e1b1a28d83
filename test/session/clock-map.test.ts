// The bounded map behind the session caches: CLOCK (second chance) instead of exact LRU order.
import { describe, expect, it } from 'vitest';
import { ClockMap } from '../../src/session/clock-map.ts';

describe('ClockMap', () => {
  it('never holds more than max entries', () => {
    const m = new ClockMap<number, number>(5);
    for (let i = 0; i < 100; i++) {
      m.set(i, i);
      if (i % 3 === 0) m.get(i - 1);
      expect(m.size).toBeLessThanOrEqual(5);
    }
    expect(m.size).toBe(5);
  });

  it('keeps an entry read between inserts through any number of entries never read again', () => {
    const m = new ClockMap<string, number>(4);
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

  it('forgets the oldest entry not read since the eviction walk last passed it', () => {
    const m = new ClockMap<string, number>(3);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    m.get('a');
    m.set('d', 4); // a read: second chance; b is the oldest unread
    expect(m.peek('b')).toBeUndefined();
    expect(m.peek('a')).toBe(1);
    m.set('e', 5); // a lost its mark in the last walk and is now behind c: c goes
    expect(m.peek('c')).toBeUndefined();
    expect([m.peek('a'), m.peek('d'), m.peek('e')]).toEqual([1, 4, 5]);
  });

  it('evicts even when every entry was read (one lap clears the marks)', () => {
    const m = new ClockMap<string, number>(3);
    for (const k of ['a', 'b', 'c']) m.set(k, 0);
    for (const k of ['a', 'b', 'c']) m.get(k);
    m.set('d', 0);
    expect(m.size).toBe(3);
    expect(m.peek('a')).toBeUndefined();
  });

  it('peek does not count as a read; set of a present key moves it to the newest end unmarked; replace keeps its place', () => {
    const m = new ClockMap<string, number>(2);
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
    m.set('e', 5); // b is older than d and unread: it goes despite the replace
    expect(m.peek('b')).toBeUndefined();
    expect([m.peek('d'), m.peek('e')]).toEqual([4, 5]);
  });

  it('delete and clear forget entries', () => {
    const m = new ClockMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    expect(m.delete('a')).toBe(true);
    expect(m.get('a')).toBeUndefined();
    m.clear();
    expect(m.size).toBe(0);
  });
});
