import { readFileSync } from 'node:fs';
import path from 'node:path';
import { extractRunbookBlocks, RunbookFormatError } from '../../scripts/support/runbook-blocks';

describe('extractRunbookBlocks', () => {
  it('returns only blocks fenced as sh runbook:<name>, in order, with their line', () => {
    const doc = [
      '# Title', // 1
      '```sh', // 2
      'echo not checked',
      '```',
      '```sh runbook:first', // 5
      'temporal workflow list \\',
      '  --query \'EventStatus="failed"\'',
      '```',
      '````sh runbook:second', // 9
      '```',
      '````',
    ].join('\n');
    expect(extractRunbookBlocks(doc)).toEqual([
      {
        name: 'first',
        code: 'temporal workflow list \\\n  --query \'EventStatus="failed"\'',
        line: 5,
      },
      { name: 'second', code: '```', line: 9 },
    ]);
  });

  it('rejects a name used twice and an unclosed block', () => {
    const twice = '```sh runbook:a\nx\n```\n```sh runbook:a\ny\n```\n';
    expect(() => extractRunbookBlocks(twice)).toThrow(RunbookFormatError);
    expect(() => extractRunbookBlocks('```sh runbook:a\nx\n')).toThrow(/never closed/);
  });

  it('finds the blocks of docs/operations.md', () => {
    const doc = readFileSync(path.resolve(__dirname, '../../docs/operations.md'), 'utf8');
    const names = extractRunbookBlocks(doc).map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(['describe', 'reset-batch', 'terminate']));
  });
});
