// The structure review's numbers (docs: shared structure review §1 and its Appendix), measured again
// on any checkout, so a restructuring can show before and after with the same ruler:
//
//   node scripts/structure-metrics.ts [dir]      dir: a Gatehouse checkout, default this repository
//
// File sizes, comment density, function units, file-level import cycles, the unit-test mirror,
// non-null assertions and long lines. The syntax tree comes from the project's own `typescript`
// package; nothing is type-checked, so any checkout (even a broken one) can be measured.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const LONG_FUNCTION = 60;
const VERY_LONG_FUNCTION = 100;
const LONG_LINE = 120;

interface SourceText {
  /** Path relative to ROOT, with "/" separators. */
  readonly path: string;
  readonly text: string;
  /** Physical lines; a trailing newline does not open another line. */
  readonly lines: readonly string[];
}

function walk(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => f.split('\\').join('/'))
    .filter(keep)
    .sort();
}

function load(folder: string, keep: (path: string) => boolean): SourceText[] {
  return walk(join(ROOT, folder), keep).map((name) => {
    const text = readFileSync(join(ROOT, folder, name), 'utf8');
    const lines = text.split('\n');
    if (text.endsWith('\n')) lines.pop();
    return { path: `${folder}/${name}`, text, lines };
  });
}

/**
 * The median is the mean of the middle two for an even count; any other percentile is the value
 * at rank floor(p·n), as the review computed them (so p90 of 46 files is the 42nd longest).
 */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (p === 0.5) return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return sorted[Math.min(n - 1, Math.floor(p * n))]!;
}

const isComment = (line: string) => /^\s*(\/\/|\/\*|\*)/.test(line);
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const pct = (part: number, whole: number) => (whole === 0 ? '0' : ((100 * part) / whole).toFixed(1));

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const width = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (typeof rows[0]?.[i] === 'number' ? c.padStart(width[i]!) : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), width.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

// ---- 1. File length and comment density ----

function fileRow(label: string, files: readonly SourceText[]): (string | number)[] {
  const sizes = files.map((f) => f.lines.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const comments = files.reduce((n, f) => n + f.lines.filter(isComment).length, 0);
  const longest = files.reduce<SourceText | undefined>((a, f) => (a === undefined || f.lines.length > a.lines.length ? f : a), undefined);
  return [
    label,
    files.length,
    fmt(percentile(sizes, 0.5)),
    fmt(percentile(sizes, 0.9)),
    `${longest?.lines.length ?? 0} (${longest?.path ?? '-'})`,
    `${pct(comments, total)} (${comments} / ${total})`,
  ];
}

// ---- 2. Function units ----

interface Unit {
  readonly name: string;
  readonly path: string;
  readonly start: number;
  readonly end: number;
  readonly lines: number;
  /** Lines minus the spans of directly nested functions. */
  readonly own: number;
}

type FunctionLike = ts.FunctionLikeDeclaration;

function unwrap(e: ts.Expression | undefined): ts.Expression | undefined {
  let x = e;
  while (x && (ts.isParenthesizedExpression(x) || ts.isAsExpression(x) || ts.isSatisfiesExpression(x))) x = x.expression;
  return x;
}

function isFunctionExpr(e: ts.Expression | undefined): e is ts.ArrowFunction | ts.FunctionExpression {
  return e !== undefined && (ts.isArrowFunction(e) || ts.isFunctionExpression(e));
}

/** Top-level function declarations, top-level `const f = () => …` / function expressions, class members with a body. */
function unitNodes(sf: ts.SourceFile): { name: string; node: ts.Node }[] {
  const found: { name: string; node: ts.Node }[] = [];
  const members = (cls: ts.ClassLikeDeclaration) => {
    for (const m of cls.members) {
      const name = `${cls.name?.text ?? '(class)'}.${m.name && ts.isIdentifier(m.name) ? m.name.text : (m.name?.getText(sf) ?? 'constructor')}`;
      if ((ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m) || ts.isGetAccessor(m) || ts.isSetAccessor(m)) && m.body)
        found.push({ name, node: m });
      else if (ts.isPropertyDeclaration(m) && isFunctionExpr(unwrap(m.initializer))) found.push({ name, node: m });
    }
  };
  for (const st of sf.statements) {
    if (ts.isFunctionDeclaration(st) && st.body) found.push({ name: st.name?.text ?? 'default', node: st });
    else if (ts.isClassDeclaration(st)) members(st);
    else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        const init = unwrap(d.initializer);
        const name = d.name.getText(sf);
        if (isFunctionExpr(init)) found.push({ name, node: d });
        else if (init && ts.isClassExpression(init)) members(init);
      }
    }
  }
  return found;
}

function lineOf(sf: ts.SourceFile, pos: number): number {
  return sf.getLineAndCharacterOfPosition(pos).line + 1;
}

/** Spans of the functions nested directly in `node` (not inside another nested function). */
function nestedSpans(sf: ts.SourceFile, node: ts.Node): number {
  let lines = 0;
  const visit = (n: ts.Node) => {
    if (n !== node && ts.isFunctionLike(n) && (n as FunctionLike).body !== undefined) {
      lines += lineOf(sf, n.end) - lineOf(sf, n.getStart(sf)) + 1;
      return;
    }
    ts.forEachChild(n, visit);
  };
  // A `const f = () => …` unit is the declaration; its own function is the initializer.
  const self = ts.isVariableDeclaration(node) || ts.isPropertyDeclaration(node) ? unwrap(node.initializer) : node;
  if (self) ts.forEachChild(self, visit);
  return lines;
}

function functionUnits(files: readonly SourceText[]): { units: Unit[]; allFunctions: number[] } {
  const units: Unit[] = [];
  const allFunctions: number[] = [];
  for (const f of files) {
    const sf = ts.createSourceFile(f.path, f.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    for (const { name, node } of unitNodes(sf)) {
      const start = lineOf(sf, node.getStart(sf));
      const end = lineOf(sf, node.end);
      units.push({ name, path: f.path, start, end, lines: end - start + 1, own: end - start + 1 - nestedSpans(sf, node) });
    }
    const every = (n: ts.Node) => {
      if (ts.isFunctionLike(n) && (n as FunctionLike).body !== undefined)
        allFunctions.push(lineOf(sf, n.end) - lineOf(sf, n.getStart(sf)) + 1);
      ts.forEachChild(n, every);
    };
    every(sf);
  }
  return { units, allFunctions };
}

// ---- 3. Import graph ----

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

function isTypeOnly(st: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(st)) {
    const c = st.importClause;
    if (c === undefined) return false; // `import './x.ts'` runs the module
    if (c.isTypeOnly) return true;
    const named = c.namedBindings;
    return (
      c.name === undefined &&
      named !== undefined &&
      ts.isNamedImports(named) &&
      named.elements.length > 0 &&
      named.elements.every((e) => e.isTypeOnly)
    );
  }
  if (st.isTypeOnly) return true;
  const named = st.exportClause;
  return named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
}

/** Relative `import … from` / `export … from` edges between files of `files` (merged per pair: value wins). */
function importEdges(files: readonly SourceText[]): Edge[] {
  const known = new Set(files.map((f) => f.path));
  const edges = new Map<string, Edge>();
  for (const f of files) {
    const sf = ts.createSourceFile(f.path, f.text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    for (const st of sf.statements) {
      if (!(ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) || !st.moduleSpecifier || !ts.isStringLiteral(st.moduleSpecifier))
        continue;
      const spec = st.moduleSpecifier.text;
      if (!spec.startsWith('.')) continue;
      const to = relative(ROOT, resolve(ROOT, dirname(f.path), spec))
        .split('\\')
        .join('/');
      if (!known.has(to)) continue;
      const key = `${f.path} ${to}`;
      const typeOnly = isTypeOnly(st) && (edges.get(key)?.typeOnly ?? true);
      edges.set(key, { from: f.path, to, typeOnly });
    }
  }
  return [...edges.values()];
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) out.push(scc.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) connect(v);
  return out;
}

function describeCycle(scc: readonly string[], edges: readonly Edge[]): string {
  const inside = edges.filter((e) => scc.includes(e.from) && scc.includes(e.to));
  const arrows = inside.map((e) => `${e.from.replace(/^src\//, '')} -> ${e.to.replace(/^src\//, '')}${e.typeOnly ? ' (type)' : ''}`);
  return `  {${scc.map((s) => s.replace(/^src\//, '')).join(', ')}}\n${arrows.map((a) => `      ${a}`).join('\n')}`;
}

// ---- 4. Unit-test mirror ----

/** src files that tests import directly (relative imports, any kind). */
function importedByTests(tests: readonly SourceText[], known: ReadonlySet<string>): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const t of tests) {
    for (const e of importEdges([t, ...[...known].map((path) => ({ path, text: '', lines: [] }))])) {
      if (e.from === t.path) by.set(e.to, [...(by.get(e.to) ?? []), t.path]);
    }
  }
  return by;
}

function mirror(src: readonly SourceText[], tests: readonly SourceText[]): string {
  const known = new Set(src.map((f) => f.path));
  const testFiles = new Set(tests.filter((t) => t.path.endsWith('.test.ts')).map((t) => t.path));
  const by = importedByTests(
    tests.filter((t) => testFiles.has(t.path)),
    known,
  );
  const mirrored = (f: string) => `test/${f.slice('src/'.length).replace(/\.ts$/, '.test.ts')}`;
  const folderOf = (f: string) => `test/${dirname(f.slice('src/'.length))}/`;
  const exact = src.filter((f) => testFiles.has(mirrored(f.path)));
  const inFolder = src.filter((f) =>
    (by.get(f.path) ?? []).some((t) => t.startsWith(folderOf(f.path)) && !t.slice(folderOf(f.path).length).includes('/')),
  );
  const anyTest = src.filter((f) => by.has(f.path));
  const perFolder = new Map<string, { files: number; exact: number; folder: number }>();
  for (const f of src) {
    const top = f.path.split('/').length > 2 ? f.path.split('/')[1]! : '(root)';
    const row = perFolder.get(top) ?? { files: 0, exact: 0, folder: 0 };
    perFolder.set(top, {
      files: row.files + 1,
      exact: row.exact + (exact.includes(f) ? 1 : 0),
      folder: row.folder + (inFolder.includes(f) ? 1 : 0),
    });
  }
  return [
    `src files: ${src.length}`,
    `  with test/<same path>.test.ts (src/a/b.ts -> test/a/b.test.ts):         ${exact.length}`,
    `  imported by some *.test.ts in the mirrored folder (test/a/*.test.ts):   ${inFolder.length}`,
    `  imported directly by any *.test.ts (integration tests included):        ${anyTest.length}`,
    '',
    table(
      ['src folder', 'files', 'exact mirror', 'mirrored folder'],
      [...perFolder].sort().map(([k, v]) => [k, v.files, v.exact, v.folder]),
    ),
  ].join('\n');
}

// ---- 5. Non-null assertions and long lines ----

function nonNull(files: readonly SourceText[]): Map<string, number> {
  const per = new Map<string, number>();
  for (const f of files) {
    const sf = ts.createSourceFile(f.path, f.text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    let n = 0;
    const visit = (node: ts.Node) => {
      if (ts.isNonNullExpression(node)) n++;
      ts.forEachChild(node, visit);
    };
    visit(sf);
    if (n > 0) per.set(f.path, n);
  }
  return per;
}

function longLines(files: readonly SourceText[]): { over120: number; over200: number; longest: string } {
  let over120 = 0;
  let over200 = 0;
  let longest = { len: 0, where: '-' };
  for (const f of files) {
    f.lines.forEach((l, i) => {
      if (l.length > LONG_LINE) over120++;
      if (l.length > 200) over200++;
      if (l.length > longest.len) longest = { len: l.length, where: `${f.path}:${i + 1}` };
    });
  }
  return { over120, over200, longest: `${longest.where} (${longest.len} chars)` };
}

// ---- Report ----

function unitSection(units: readonly Unit[], allFunctions: readonly number[]): string {
  const sizes = units.map((u) => u.lines);
  const long = [...units].filter((u) => u.lines > LONG_FUNCTION).sort((a, b) => b.lines - a.lines);
  const veryLong = long.filter((u) => u.lines > VERY_LONG_FUNCTION).length;
  const summary = table(
    ['units', 'median lines', 'p90', `> ${LONG_FUNCTION} lines`, `> ${VERY_LONG_FUNCTION} lines`, 'longest'],
    [
      [
        units.length,
        fmt(percentile(sizes, 0.5)),
        fmt(percentile(sizes, 0.9)),
        `${long.length} (${pct(long.length, units.length)} %)`,
        `${veryLong} (${pct(veryLong, units.length)} %)`,
        Math.max(0, ...sizes),
      ],
    ],
  );
  const list = table(
    ['lines', 'own', 'function', 'where'],
    long.map((u) => [u.lines, u.own, u.name, `${u.path}:${u.start}-${u.end}`]),
  );
  const ownTop = [...units].sort((a, b) => b.own - a.own).slice(0, 7);
  return [
    summary,
    `All function nodes in src/ (callbacks included): ${allFunctions.length}, median ${fmt(percentile(allFunctions, 0.5))} lines, p90 ${fmt(percentile(allFunctions, 0.9))}.`,
    '',
    `Units longer than ${LONG_FUNCTION} lines ("own" leaves out directly nested functions):`,
    list,
    '',
    'Longest by own lines:',
    table(
      ['own', 'function', 'where'],
      ownTop.map((u) => [u.own, u.name, `${u.path}:${u.start}-${u.end}`]),
    ),
  ].join('\n');
}

function main(): void {
  const src = load('src', (p) => p.endsWith('.ts') && !p.endsWith('.d.ts'));
  const testAll = load('test', (p) => p.endsWith('.ts'));
  const testFiles = testAll.filter((t) => t.path.endsWith('.test.ts'));
  if (src.length === 0) throw new Error(`no src/**/*.ts under ${ROOT}`);
  const commit = existsSync(join(ROOT, '.git')) ? ' (a git checkout)' : '';
  const { units, allFunctions } = functionUnits(src);
  const edges = importEdges(src);
  const valueEdges = edges.filter((e) => !e.typeOnly);
  const bang = nonNull(src);
  const bangTotal = [...bang.values()].reduce((a, b) => a + b, 0);
  const lines = longLines(src);
  const sections = [
    `Structure metrics for ${ROOT}${commit}`,
    '',
    '## Files (physical lines, trailing newline not counted; comment line: trimmed line starts with //, /* or *)',
    table(
      ['code measured', 'files', 'median lines/file', 'p90', 'max', 'comment % (lines)'],
      [fileRow('src/**/*.ts', src), fileRow('test/**/*.test.ts', testFiles), fileRow('test/**/*.ts', testAll)],
    ),
    '',
    'Longest src files:',
    table(
      ['lines', 'file'],
      [...src]
        .sort((a, b) => b.lines.length - a.lines.length)
        .slice(0, 9)
        .map((f) => [f.lines.length, f.path]),
    ),
    `src files without a header comment (line 1, or line 2 after a #! line): ${
      src
        .filter((f) => !isComment(f.lines[f.lines[0]?.startsWith('#!') ? 1 : 0] ?? ''))
        .map((f) => f.path)
        .join(', ') || 'none'
    }`,
    '',
    '## Function units in src/ (top-level functions and arrow/function constants, class members; nested closures count inside their parent)',
    unitSection(units, allFunctions),
    '',
    '## File-level import cycles in src/ (relative import/export … from; type-only: `import type` or every named binding `type`)',
    `edges: ${edges.length} (${valueEdges.length} value, ${edges.length - valueEdges.length} type-only)`,
    `cycles over all edges: ${cycles(edges).length}`,
    ...cycles(edges).map((c) => describeCycle(c, edges)),
    `cycles over value edges only: ${cycles(valueEdges).length}`,
    ...cycles(valueEdges).map((c) => describeCycle(c, valueEdges)),
    '',
    '## Unit-test mirror',
    mirror(src, testAll),
    '',
    '## Non-null assertions (`x!`) in src/',
    `total: ${bangTotal}; by file: ${[...bang]
      .sort((a, b) => b[1] - a[1])
      .map(([f, n]) => `${f.replace(/^src\//, '')} ${n}`)
      .join(', ')}`,
    '',
    `## Long lines in src/`,
    `longer than ${LONG_LINE} chars: ${lines.over120}; longer than 200: ${lines.over200}; longest: ${lines.longest}`,
  ];
  console.log(sections.join('\n'));
}

main();
