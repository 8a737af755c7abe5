/**
 * `npm run compose:check`: checks docker-compose.yml without a Docker engine. When
 * `docker-compose` or `docker compose` is installed, `config -q` validates the file against the
 * Compose specification (required passwords get placeholders); `findComposeProblems` always
 * checks what no validator knows about.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ENV_VARIABLES } from '../src/env.schema';
import { heapLimitFlags } from '../src/dev/heap-limits';

const ROOT = path.resolve(__dirname, '..');
const FILE = path.join(ROOT, 'docker-compose.yml');

function main(): number {
  const text = readFileSync(FILE, 'utf8');
  const failures: string[] = [];
  const works = (cmd: string[]) =>
    spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { stdio: 'ignore' }).status === 0;
  const validator = [['docker-compose'], ['docker', 'compose']].find(works);
  if (validator === undefined) {
    console.log(
      '- compose validation skipped: neither docker-compose nor docker compose is installed',
    );
  } else {
    // `${NAME:?message}` makes a variable mandatory: give each a placeholder unless it is set.
    const env = { ...process.env };
    for (const [, name] of text.matchAll(/\$\{(\w+):\?/g))
      env[name!] ??= 'compose-check-placeholder';
    const args = [...validator.slice(1), '-f', FILE, 'config', '-q'];
    const result = spawnSync(validator[0]!, args, { cwd: ROOT, env, encoding: 'utf8' });
    const what = `${validator.join(' ')} config -q`;
    if (result.status === 0) console.log(`✓ ${what}`);
    else failures.push(`${what}:\n${result.stderr}${result.stdout}`);
  }
  const problems = findComposeProblems(text, ENV_VARIABLES, ROOT);
  const image = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').match(/^CMD (\[.*\])$/m);
  for (const flag of heapFlagsMissing(image ? (JSON.parse(image[1]!) as string[]) : []))
    problems.push(`the Dockerfile's CMD runs without ${flag} (src/dev/heap-limits.ts)`);
  if (problems.length === 0)
    console.log('✓ service variables, entry points, mounts and image pins');
  failures.push(...problems);
  for (const failure of failures) console.error(`✗ ${failure}`);
  return failures.length === 0 ? 0 : 1;
}

/** The heap ceiling flags a `node …` command lacks for the service it runs. */
function heapFlagsMissing(command: readonly string[]): string[] {
  const script = command.find((word) => /^dist\/\S+\.js$/.test(word));
  return script ? heapLimitFlags(script).filter((flag) => !command.includes(flag)) : [];
}

/** The services of docker-compose.yml that run this repository's image. */
const SERVICE_NAMES = ['migrate', 'api', 'worker'] as const;

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, unknown> | string[];
  command?: string[] | string;
  healthcheck?: { test?: string[] | string };
  volumes?: (string | { source?: string })[];
}

/**
 * Finds what would break a deployment with this compose file but no parser notices: one of
 * migrate, api and worker missing or not built from the Dockerfile; a service of ours setting a
 * variable `src/config.ts` does not read (a typo silently falls back to the default) or running
 * `dist/<file>.js` whose `<file>.ts` does not exist; a bind-mounted file that does not exist; a
 * third-party image not pinned to a version. Returns one message per problem.
 */
export function findComposeProblems(
  text: string,
  known: readonly string[],
  root: string,
): string[] {
  // `merge`: YAML anchors and `<<` merge keys resolve as docker compose resolves them.
  const parsed = parse(text, { merge: true }) as { services?: Record<string, ComposeService> };
  const services = parsed.services ?? {};
  const problems: string[] = [];
  for (const name of SERVICE_NAMES) {
    if (services[name]?.build === undefined)
      problems.push(
        `service ${name} is ${services[name] ? 'not built from the Dockerfile' : 'missing'}`,
      );
  }
  for (const [name, service] of Object.entries(services)) {
    if (service.build !== undefined) {
      const env = service.environment ?? {};
      const variables = Array.isArray(env)
        ? env.map((entry) => entry.split('=')[0]!)
        : Object.keys(env);
      for (const variable of variables.filter((v) => !known.includes(v)))
        problems.push(`service ${name} sets ${variable}, which src/config.ts does not read`);
      const words = [service.command, service.healthcheck?.test].flatMap((part) =>
        Array.isArray(part) ? part : (part ?? '').split(/\s+/),
      );
      for (const script of new Set(words.filter((word) => /^dist\/\S+\.js$/.test(word)))) {
        const source = script.replace(/^dist\//, '').replace(/\.js$/, '.ts');
        if (!existsSync(path.join(root, source)))
          problems.push(`service ${name} runs ${script}, but ${source} does not exist`);
      }
      if (Array.isArray(service.command))
        for (const flag of heapFlagsMissing(service.command))
          problems.push(`service ${name} runs without ${flag} (src/dev/heap-limits.ts)`);
    } else if (!/:[^/]+$/.test(service.image ?? '') || service.image?.endsWith(':latest')) {
      problems.push(
        `service ${name} uses image ${service.image}, which is not pinned to a version`,
      );
    }
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
      if (source.startsWith('./') && !existsSync(path.join(root, source)))
        problems.push(`service ${name} mounts ${source}, which does not exist`);
    }
  }
  return problems;
}

if (require.main === module) process.exit(main());
