/** The outcome of one HTTP attempt: an answer, or no answer at all. */
export type Attempt =
  { kind: 'answer'; status: number; body: any } | { kind: 'no-answer'; cause: string };

/**
 * A client's request timeout. Common analytics SDKs give up after about 10 s and retry; a
 * service that holds a request longer than that (e.g. waiting for Temporal) sees it twice.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

/** One POST with a JSON body; network errors and timeouts become `no-answer`, never throws. */
export async function postJson(
  url: string,
  opts: { token: string; body: unknown; headers?: Record<string, string> },
): Promise<Attempt> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${opts.token}`,
        'content-type': 'application/json',
        ...opts.headers,
      },
      body: JSON.stringify(opts.body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // A proxy's HTML error page, say: kept as text for the report.
    }
    return { kind: 'answer', status: res.status, body };
  } catch (err) {
    return { kind: 'no-answer', cause: describeNetworkError(err) };
  }
}

/** `timeout`, `ECONNREFUSED`, `ECONNRESET`, `UND_ERR_SOCKET`…: what broke, in one word. */
function describeNetworkError(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return 'timeout';
  }
  const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
  return cause?.code ?? (err instanceof Error ? err.message : String(err));
}
