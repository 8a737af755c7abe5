/**
 * `npm run compose:check`: checks docker-compose.yml without a Docker engine.
 * 1. When `docker-compose` (Debian's package of that name) or `docker compose` is installed, runs
 *    `config -q` on it, which validates the file against the Compose specification; the
 *    passwords it requires get placeholder values.
 * 2. Always checks what no validator knows about (scripts/support/compose-checks.ts): every
 *    variable set on the service's own containers is one src/config.ts reads, the compiled
 *    entry points and mounted files exist, and third-party images are pinned.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ENV_VARIABLES } from '../src/config';
import { findComposeProblems } from './support/compose-checks';

const ROOT = path.resolve(__dirname, '..');
const FILE = path.join(ROOT, 'docker-compose.yml');

function main(): number {
  const text = readFileSync(FILE, 'utf8');
  let failed = 0;
  let passed = 0;

  const validator = findValidator();
  if (validator === undefined) {
    console.log(
      '- compose validation skipped: neither docker-compose nor docker compose is installed',
    );
  } else {
    // `${NAME:?message}` makes a variable mandatory: give each a placeholder unless it is set.
    const required = [...text.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!);
    const env = { ...process.env };
    for (const name of required) env[name] ??= 'compose-check-placeholder';
    const result = spawnSync(validator[0]!, [...validator.slice(1), '-f', FILE, 'config', '-q'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    if (result.status === 0) {
      console.log(`✓ ${validator.join(' ')} config -q`);
      passed++;
    } else {
      console.error(`✗ ${validator.join(' ')} config -q:\n${result.stderr}${result.stdout}`);
      failed++;
    }
  }

  const problems = findComposeProblems(text, ENV_VARIABLES, ROOT);
  if (problems.length === 0) {
    console.log('✓ service variables, entry points, mounts and image pins');
    passed++;
  } else {
    for (const problem of problems) console.error(`✗ ${problem}`);
    failed++;
  }
  console.log(`compose: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

/** The compose command line to validate with, if any is installed. */
function findValidator(): string[] | undefined {
  const works = (cmd: string[]) =>
    spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { stdio: 'ignore' }).status === 0;
  return [['docker-compose'], ['docker', 'compose']].find(works);
}

process.exit(main());
