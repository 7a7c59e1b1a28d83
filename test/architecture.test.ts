// Folder-level layering of src/ (docs: STYLE.md layout, structure review §2.4 and P1). Value imports
// point down or sideways, never up; no import cycle between folders, type imports included. The
// allow-list holds exactly the edges that still break this; it may only shrink.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const LAYERS: readonly (readonly string[])[] = [
  ['main'],
  ['cli'],
  ['runtime', 'runtime-holder', 'server', 'admin', 'demo'],
  ['auth', 'proxy'],
  ['session', 'policy', 'identity', 'audit', 'route', 'directory'],
  ['http', 'config', 'errors', 'log'],
  ['uri'],
];

/** 'from -> to': why it is still here, and the issue-13 item that removes it. */
const KNOWN_VIOLATIONS: Readonly<Record<string, string>> = {};

const SRC = resolve(import.meta.dirname, '../src');
const IMPORT = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'(\.[^']+)'|\bimport\('(\.[^']+)'\)/gm;
const folderOf = (file: string) => relative(SRC, file).split('/')[0]!.replace(/\.ts$/, '');
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

/** Folder edges 'from -> to' → whether any import along it is a value import. */
function folderEdges(): Map<string, boolean> {
  const edges = new Map<string, boolean>();
  for (const name of readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    const file = join(SRC, name);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const to = folderOf(resolve(dirname(file), m[4] ?? m[5]!));
      const from = folderOf(file);
      if (to === from) continue;
      const names = m[3]
        ?.match(/^\{([^}]*)\}$/s)?.[1]
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const typeOnly = m[2] !== undefined || (names !== undefined && names.every((s) => s.startsWith('type ')));
      const key = `${from} -> ${to}`;
      edges.set(key, (edges.get(key) ?? false) || !typeOnly);
    }
  }
  return edges;
}

const split = (edge: string) => edge.split(' -> ') as [string, string];
const upwardValue = (edge: string, value: boolean) => value && rank.get(split(edge)[0])! > rank.get(split(edge)[1])!;

function reaches(edges: Iterable<string>, from: string, to: string): boolean {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(split(e)[0], [...(next.get(split(e)[0]) ?? []), split(e)[1]]);
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (f === to) return true;
    if (!seen.has(f)) seen.add(f), stack.push(...(next.get(f) ?? []));
  }
  return false;
}

/** Upward value imports outside the allow-list. */
function upwardEdges(edges: ReadonlyMap<string, boolean>, allowed: Readonly<Record<string, string>>): string[] {
  return [...edges].filter(([e, v]) => upwardValue(e, v) && !(e in allowed)).map(([e]) => e);
}

/** Edges on a folder cycle (type imports included), ignoring the allow-list. */
function cyclicEdges(edges: ReadonlyMap<string, boolean>, allowed: Readonly<Record<string, string>>): string[] {
  const kept = [...edges.keys()].filter((e) => !(e in allowed));
  return kept.filter((e) => reaches(kept, split(e)[1], split(e)[0]));
}

describe('architecture: imports between src/ folders point down', () => {
  const edges = folderEdges();

  it('sees the imports (the parser is not blind) and every folder has a layer', () => {
    expect(edges.get('server -> http')).toBe(true);
    expect(edges.get('http -> audit')).toBe(false);
    expect([...edges.keys()].flatMap(split).filter((f) => !rank.has(f))).toEqual([]);
  });

  it('no value import points up a layer, except the known violations', () => {
    expect(upwardEdges(edges, KNOWN_VIOLATIONS)).toEqual([]);
  });

  it('no import cycle between folders (type imports included), except through the known violations', () => {
    expect(cyclicEdges(edges, KNOWN_VIOLATIONS)).toEqual([]);
  });

  it('every known violation still exists (the list only shrinks: delete an entry once it is fixed)', () => {
    const all = [...edges.keys()];
    const stale = Object.keys(KNOWN_VIOLATIONS).filter(
      (e) => !(edges.has(e) && (upwardValue(e, edges.get(e)!) || reaches(all, split(e)[1], split(e)[0]))),
    );
    expect(stale).toEqual([]);
  });

  it('the checks fail on a synthetic upward import and on a synthetic cycle', () => {
    // The real graph plus one edge each way: a bottom folder importing a value from the top, and a
    // type-only edge that closes a cycle (server imports http; http imports server's types).
    const upward = new Map([...edges, ['config -> route', true]]);
    expect(upwardEdges(upward, KNOWN_VIOLATIONS)).toEqual(['config -> route']);
    expect(upwardEdges(upward, { 'config -> route': 'allowed for the test' })).toEqual([]);
    const cycle = new Map([...edges, ['http -> server', false]]);
    expect(upwardEdges(cycle, KNOWN_VIOLATIONS)).toEqual([]);
    expect(cyclicEdges(cycle, KNOWN_VIOLATIONS)).toContain('http -> server');
    expect(cyclicEdges(cycle, KNOWN_VIOLATIONS)).toContain('server -> http');
  });
});
