import { Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Sends the Temporal SDK's own logs (worker state, workflow `log` calls) through our JSON
 * logger. Must run once per process, before the first worker or native connection exists.
 */
export function installTemporalRuntime(logger: Logger): void {
  const sdk = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: {
      log: (level: LogLevel, message: string, meta?: LogMetadata) =>
        sdk[LEVELS[level]](meta ?? {}, message),
      trace: (message, meta) => sdk.trace(meta ?? {}, message),
      debug: (message, meta) => sdk.debug(meta ?? {}, message),
      info: (message, meta) => sdk.info(meta ?? {}, message),
      warn: (message, meta) => sdk.warn(meta ?? {}, message),
      error: (message, meta) => sdk.error(meta ?? {}, message),
    },
  });
}
