import pino from 'pino';

export type Logger = pino.Logger;

/**
 * JSON logs on stdout. Lines about an event carry `event_id` and `workflow_id`, never its
 * payload; these paths are redacted at every level in case one is passed by mistake.
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  /** Where lines go; stdout when omitted (tests pass a stream to read them back). */
  destination?: pino.DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'event-ingestion', ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['payload', '*.payload', 'req.headers.authorization', 'token'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
