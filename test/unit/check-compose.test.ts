import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ENV_VARIABLES } from '../../src/env.schema';
import { findComposeProblems } from '../../scripts/check-compose';

const ROOT = path.resolve(__dirname, '../..');
const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');

describe('findComposeProblems', () => {
  it('finds none in docker-compose.yml', () => {
    expect(findComposeProblems(compose, ENV_VARIABLES, ROOT)).toEqual([]);
  });

  it('names a misspelt variable set through a merged anchor', () => {
    const text = `
x-env: &env
  DATABSE_URL: postgres://x
services:
  migrate: { build: ., environment: { <<: *env } }
  api: { build: ., environment: [API_PORT=3000] }
  worker: { build: ., command: [node, --max-old-space-size=256, dist/src/worker.js] }
`;
    expect(findComposeProblems(text, ENV_VARIABLES, ROOT)).toEqual([
      'service migrate sets DATABSE_URL, which src/config.ts does not read',
    ]);
  });

  it('names missing entry points, mounts, services and unpinned images', () => {
    const text = `
services:
  api: { build: ., command: [node, dist/src/nope.js] }
  worker: { image: event-ingestion }
  ui: { image: temporalio/ui:latest, volumes: ['./nope.sh:/x.sh:ro'] }
`;
    expect(findComposeProblems(text, ENV_VARIABLES, ROOT)).toEqual([
      'service migrate is missing',
      'service worker is not built from the Dockerfile',
      'service api runs dist/src/nope.js, but src/nope.ts does not exist',
      'service worker uses image event-ingestion, which is not pinned to a version',
      'service ui uses image temporalio/ui:latest, which is not pinned to a version',
      'service ui mounts ./nope.sh, which does not exist',
    ]);
  });

  it('names a service run without its heap ceiling, or with another one', () => {
    const text = `
services:
  migrate: { build: ., command: [node, dist/scripts/migrate.js] }
  api: { build: ., command: [node, --max-old-space-size=4096, dist/src/server.js] }
  worker: { build: ., command: [node, dist/src/worker.js] }
`;
    expect(findComposeProblems(text, ENV_VARIABLES, ROOT)).toEqual([
      'service api runs without --max-old-space-size=512 (src/dev/heap-limits.ts)',
      'service worker runs without --max-old-space-size=256 (src/dev/heap-limits.ts)',
    ]);
  });
});

describe('docker-compose.yml and the metrics defaults', () => {
  // Metrics default to loopback; Prometheus scrapes the worker over the compose network.
  it("opens the worker's own endpoints, which check METRICS_TOKEN, and nothing else", () => {
    const services = (parse(compose, { merge: true }) as { services: Record<string, any> })
      .services;
    const worker = services.worker.environment as Record<string, string>;
    expect(worker.WORKER_METRICS_HOST).toBe('0.0.0.0');
    expect(worker.METRICS_TOKEN).toMatch(/^\$\{METRICS_TOKEN:\?/);
    // The SDK's exporter cannot check a token: it keeps its loopback default.
    expect(worker.TEMPORAL_SDK_METRICS_HOST).toBeUndefined();
  });
});
