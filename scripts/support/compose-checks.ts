import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** The services of docker-compose.yml that run this repository's image. */
export const SERVICE_NAMES = ['migrate', 'api', 'worker'] as const;

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, unknown> | string[];
  command?: string[] | string;
  healthcheck?: { test?: string[] | string };
  volumes?: (string | { type?: string; source?: string })[];
}

/** Parses a compose file, resolving YAML anchors and `<<` merge keys as docker compose does. */
export function parseCompose(text: string): { services?: Record<string, ComposeService> } {
  return parse(text, { merge: true }) as { services?: Record<string, ComposeService> };
}

/**
 * Finds what would break a deployment with this compose file but no parser notices:
 * - a service built from the Dockerfile sets a variable `src/config.ts` does not read (a typo
 *   silently falls back to the default);
 * - one of migrate, api and worker is missing or not built from the Dockerfile;
 * - a command or health check runs `dist/<file>.js` whose `<file>.ts` source does not exist;
 * - a bind-mounted file does not exist;
 * - a third-party image is not pinned to a version.
 *
 * @returns one message per problem; empty when there is none
 */
export function findComposeProblems(
  text: string,
  known: readonly string[],
  root: string,
): string[] {
  const services = parseCompose(text).services ?? {};
  const problems: string[] = [];

  for (const name of SERVICE_NAMES) {
    if (!services[name]) problems.push(`service ${name} is missing`);
    else if (services[name].build === undefined)
      problems.push(`service ${name} is not built from the Dockerfile`);
  }

  for (const [name, service] of Object.entries(services)) {
    if (service.build !== undefined) {
      for (const variable of environmentKeys(service.environment)) {
        if (!known.includes(variable))
          problems.push(`service ${name} sets ${variable}, which src/config.ts does not read`);
      }
      for (const script of compiledScripts(service)) {
        const source = path.join(root, script.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
        if (!existsSync(source))
          problems.push(
            `service ${name} runs ${script}, but ${path.relative(root, source)} does not exist`,
          );
      }
    } else if (!/:[^/]+$/.test(service.image ?? '') || service.image?.endsWith(':latest')) {
      problems.push(
        `service ${name} uses image ${service.image}, which is not pinned to a version`,
      );
    }
    for (const source of bindSources(service.volumes)) {
      if (!existsSync(path.join(root, source)))
        problems.push(`service ${name} mounts ${source}, which does not exist`);
    }
  }
  return problems;
}

function environmentKeys(env: ComposeService['environment']): string[] {
  if (Array.isArray(env)) return env.map((entry) => entry.split('=')[0]!);
  return Object.keys(env ?? {});
}

function compiledScripts(service: ComposeService): string[] {
  const words = [service.command, service.healthcheck?.test]
    .flatMap((part) => (Array.isArray(part) ? part : (part ?? '').split(/\s+/)))
    .filter((word) => /^dist\/\S+\.js$/.test(word));
  return [...new Set(words)];
}

function bindSources(volumes: ComposeService['volumes']): string[] {
  return (volumes ?? []).flatMap((volume) => {
    const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
    return source.startsWith('./') ? [source] : [];
  });
}
