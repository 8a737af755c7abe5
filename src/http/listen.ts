import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';

/** Most header bytes a request may carry; Node's own default, stated so it is a decision. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Starts the HTTP server. Requests Node rejects before Koa sees them (oversized headers,
 * malformed requests) still get the service's JSON error body.
 */
export function listen(
  app: { callback(): RequestListener },
  port: number,
  host: string,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app.callback());
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      const [status, reason, code, message] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [
              431,
              'Request Header Fields Too Large',
              'headers_too_large',
              `Request headers exceed ${MAX_HEADER_BYTES} bytes`,
            ]
          : [400, 'Bad Request', 'bad_request', 'Malformed HTTP request'];
      const body = JSON.stringify({ error: { code, message } });
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
  });
}
