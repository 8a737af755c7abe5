import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowInterceptorModules } from '../src/worker/workflow-interceptor-modules';

/**
 * `npm run build:workflows [-- <file>]`: bundles the workflows once, ahead of time, into
 * `dist/workflow-bundle.js` (or <file>). A worker started with WORKFLOW_BUNDLE_PATH pointing at
 * it skips bundling at start (unless tracing is on: the bundle has no tracing interceptors).
 */
export async function bundleWorkflows(file: string): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: workflowInterceptorModules(false),
    logger: {
      log() {},
      trace() {},
      debug() {},
      info() {},
      warn: console.warn,
      error: console.error,
    },
  });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, code);
}

if (require.main === module) {
  const file = path.resolve(
    process.argv[2] ?? path.join(__dirname, '..', 'dist', 'workflow-bundle.js'),
  );
  bundleWorkflows(file).then(
    () => console.log(`workflow bundle: ${file}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
