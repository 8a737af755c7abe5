/**
 * Thrown when a measurement's own check fails: an event not processed, a count that does not
 * match, an answer that breaks the API contract. Such a run has no valid figure.
 */
export class BenchCheckError extends Error {
  override readonly name = 'BenchCheckError';
}

/** Thrown when a process the bench started (API, worker, Temporal) exits before it is stopped. */
export class BenchProcessExitedError extends Error {
  override readonly name = 'BenchProcessExitedError';
  constructor(
    readonly processName: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly output: string,
  ) {
    super(
      `The ${processName} exited (${signal ?? `code ${String(exitCode)}`}) during the bench.\n` +
        `Last output:\n${output || '(nothing)'}`,
    );
  }
}

/** Thrown when something the bench waits for (rows processed, a process ready) takes too long. */
export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
}
