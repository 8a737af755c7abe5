/**
 * The V8 heap ceiling (`--max-old-space-size`, MB) of each service wherever we run it:
 * `npm start`, the bench, the fault suite, the image and compose (`npm run compose:check`
 * holds compose and the Dockerfile to these). Without one V8 sizes its heap from the machine's
 * memory and collects lazily, so a worker idles at hundreds of MB it does not need.
 *
 * The API's is the one `test/api/hostile-sizes.test.ts` proves large bodies safe under. The
 * worker's was chosen by the bench (docs/benchmarks.md): the peak resident size of every phase
 * stays under 400 MB, with no phase slower than without it.
 */
export const HEAP_LIMIT_MB = { api: 512, worker: 256 } as const;

/** The service each entry point runs, by its path in the source tree. */
const SERVICE_OF_ENTRY: Readonly<Record<string, keyof typeof HEAP_LIMIT_MB>> = {
  'src/server.ts': 'api',
  'src/worker.ts': 'worker',
};

/** Node's flag for the heap ceiling of the service `entry` runs, if it runs one. */
export function heapLimitFlags(entry: string): string[] {
  const service = SERVICE_OF_ENTRY[entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')];
  return service ? [`--max-old-space-size=${HEAP_LIMIT_MB[service]}`] : [];
}
