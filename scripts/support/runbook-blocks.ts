/** A shell snippet of the runbook that `npm run runbook:check` runs against a live server. */
export interface RunbookBlock {
  /** The name after `runbook:` in the fence's info string. */
  name: string;
  /** The snippet as written, without the fences. */
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

export class RunbookFormatError extends Error {
  override readonly name = 'RunbookFormatError';
}

const FENCE = /^(`{3,}|~{3,})\s*(.*)$/;
const CHECKED = /^sh\s+runbook:([a-z0-9-]+)\s*$/;

/**
 * The fenced code blocks of a Markdown document whose info string is `sh runbook:<name>`, in
 * document order; other blocks (plain `sh`, tctl equivalents, output samples) are skipped.
 *
 * @throws {@link RunbookFormatError} on an unclosed fence or a name used twice
 */
export function extractRunbookBlocks(markdown: string): RunbookBlock[] {
  const lines = markdown.split('\n');
  const blocks: RunbookBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const [, fence, info] = FENCE.exec(lines[i]!.trimEnd()) ?? [];
    if (fence === undefined) continue;
    const end = lines.findIndex(
      (l, j) => j > i && l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, '') === '',
    );
    if (end === -1) throw new RunbookFormatError(`line ${i + 1}: code block is never closed`);
    const name = CHECKED.exec(info!.trim())?.[1];
    if (name !== undefined) {
      if (blocks.some((b) => b.name === name)) {
        throw new RunbookFormatError(`line ${i + 1}: runbook block "${name}" appears twice`);
      }
      blocks.push({ name, code: lines.slice(i + 1, end).join('\n'), line: i + 1 });
    }
    i = end;
  }
  return blocks;
}
