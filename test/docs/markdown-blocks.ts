// The fenced code blocks of a Markdown file with the docs-test marker that precedes each
// (`<!-- docs-test: KIND ARGS -->` on the line before the fence, blank lines allowed between).
// Kinds: run [exit=N], help, background NAME, file NAME [invalid], fragment [NAME], config, skip REASON.
export interface Block {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly body: string;
  readonly kind: string | undefined;
  readonly args: readonly string[];
}

const MARKER = /^<!--\s*docs-test:\s*(\S+)\s*(.*?)\s*-->$/;

export function codeBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let marker: { kind: string; args: string[] } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const m = MARKER.exec(line.trim());
    if (m) {
      marker = { kind: m[1] ?? '', args: (m[2] ?? '').split(/\s+/).filter(Boolean) };
      continue;
    }
    const fence = /^```(\w*)\s*$/.exec(line);
    if (!fence) {
      if (line.trim() !== '') marker = undefined;
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
    blocks.push({
      file,
      line: start + 1,
      lang: fence[1] ?? '',
      body: `${body.join('\n')}\n`,
      kind: marker?.kind,
      args: marker?.args ?? [],
    });
    marker = undefined;
  }
  return blocks;
}

/** Shell lines of a block: continuations joined, blank lines dropped, comments kept (sh ignores them). */
export function shellLines(body: string): string[] {
  return body
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** A `$ command` transcript: each command with the output documented under it. */
export function transcript(body: string): { command: string; output: string[] }[] {
  const steps: { command: string; output: string[] }[] = [];
  for (const line of body.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), output: [] });
    else steps.at(-1)?.output.push(line);
  }
  return steps;
}
