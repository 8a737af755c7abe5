/**
 * `npx ts-node --transpile-only bench/profile-summary.ts <file.cpuprofile>...`: where a process
 * spent its CPU, from the profiles `npm run bench -- --cpu-prof` writes. Prints self time by
 * package (node_modules/<name>, the project's own folders, Node internals, GC, idle) and the
 * busiest functions.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function summarize(file: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  let total = 0;
  const byGroup = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    const group = groupOf(frame.url, frame.functionName);
    byGroup.set(group, (byGroup.get(group) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  const busy = total - (byGroup.get('(idle)') ?? 0);
  const lines = [
    `${path.basename(file)}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s on CPU`,
  ];
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .filter(([k]) => k !== '(idle)')
      .sort((x, y) => y[1] - x[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`);
  lines.push(' by package (share of CPU time):', ...top(byGroup, 15));
  lines.push(' busiest functions (self time):', ...top(byFunction, 20));
  return lines.join('\n');
}

function groupOf(url: string, fn: string): string {
  if (fn === '(idle)' || fn === '(program)' || fn === '(garbage collector)') return fn;
  if (url === '') return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(src|activities|workflows|bench|migrations)\//.exec(url);
  if (own) return `project ${own[1]}/`;
  return url.includes('workflow-bundle') || url.includes('webpack') ? 'workflow bundle' : '(other)';
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: ts-node bench/profile-summary.ts <file.cpuprofile>...');
  process.exit(2);
}
console.log(files.map(summarize).join('\n\n'));
