import { Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** What the SDK runtime exports besides logs. */
export interface TemporalRuntimeOptions {
  /**
   * `host:port` where the SDK serves its own Prometheus metrics (`temporal_*`: task latencies,
   * poll counts, slots, sticky cache) at `/metrics`; none when omitted. The SDK's exporter
   * answers anyone who reaches it (it cannot check METRICS_TOKEN): keep the host private.
   */
  sdkMetricsAddress?: string;
}

/**
 * Sends the Temporal SDK's own logs (worker state, workflow `log` calls) through our JSON
 * logger, and its metrics to a Prometheus endpoint when asked. Must run once per process,
 * before the first worker or native connection exists.
 */
export function installTemporalRuntime(logger: Logger, options: TemporalRuntimeOptions = {}): void {
  const sdk = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    ...(options.sdkMetricsAddress && {
      // Default names and units (durations in ms), so they match Temporal's SDK metrics reference.
      telemetryOptions: { metrics: { prometheus: { bindAddress: options.sdkMetricsAddress } } },
    }),
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

/** `host:port` as socket addresses are written, with brackets around IPv6 hosts. */
export function socketAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
