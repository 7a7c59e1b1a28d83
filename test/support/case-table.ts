// Attack cases as data: a tab-separated file beside the suite, one case per row, the first row
// naming the columns, `#` lines comments. Cells may spell bytes a text editor would lose:
// \t, \r, \n, \\ and \xHH (one latin1 byte, as raw-http.ts sends strings).
import { readFileSync } from 'node:fs';

export type CaseRow = Readonly<Record<string, string>>;

function unescape(cell: string): string {
  return cell.replace(/\\(x[0-9A-Fa-f]{2}|[trn\\])/g, (_, e: string) =>
    e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'n' ? '\n' : '\\',
  );
}

/** The rows of `file` (a URL, e.g. `new URL('./x.cases.tsv', import.meta.url)`), each a column → cell map. */
export function loadCases(file: URL): CaseRow[] {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const [head, ...rows] = lines;
  if (head === undefined) throw new Error(`${file.pathname}: no header row`);
  const columns = head.split('\t');
  return rows.map((line, i) => {
    const cells = line.split('\t');
    if (cells.length !== columns.length)
      throw new Error(`${file.pathname}: row ${i + 1} has ${cells.length} cells, expected ${columns.length}`);
    return Object.fromEntries(columns.map((c, j) => [c, unescape(cells[j]!)]));
  });
}
