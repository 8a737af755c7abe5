/** What stands in a logged path for a key. */
const REDACTED = '[redacted]';

/**
 * A request path as it may be logged, with keys taken out: the browser settings path carries a
 * write key (`/v1/projects/:writeKey/settings`), whatever its shape, and a client may put an
 * API token or write key anywhere by mistake. Logs are read by more people than keys are.
 */
export function redactPath(path: string): string {
  return path
    .replace(/(\/projects\/)[^/]*/gi, `$1${REDACTED}`)
    .replace(/(evt|evw)(_|%5f)[A-Za-z0-9_%-]*/gi, REDACTED);
}
