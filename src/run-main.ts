import { ConfigError } from './config';

/**
 * Runs a command's `main` and exits with the code it returns (0 when none), or 1 when it throws.
 * A configuration error, or one of `plain`, already says what to fix: its message is printed
 * alone; anything else is printed in full, with its stack.
 */
export function runMain(
  main: () => Promise<number | void>,
  plain: readonly (abstract new (...args: never[]) => Error)[] = [],
): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      const known = [ConfigError, ...plain].some((type) => err instanceof type);
      console.error(known ? (err as Error).message : err);
      process.exit(1);
    },
  );
}
