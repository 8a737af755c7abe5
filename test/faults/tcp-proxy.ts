import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that can be cut: every open connection is reset (both
 * sides, so the server rolls back whatever was in flight and the client cannot tell whether a
 * COMMIT landed) and new connections are refused until it is restored. This is a network
 * failure between the service and its database, as opposed to the database itself going down.
 */
export class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Starts listening on `port` (0: any free one) and returns the port. */
  async listen(port = 0): Promise<number> {
    const server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Resets every connection and refuses new ones until `restore()`. */
  async cut(): Promise<number> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : null;
    const dropped = this.sockets.size;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    await closed;
    return dropped;
  }

  /** Accepts connections again, on the same port. */
  async restore(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  async close(): Promise<void> {
    await this.cut();
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.target);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
    }
    // A reset on one side is passed on as a reset, so neither end mistakes it for a clean close.
    client.on('error', () => upstream.resetAndDestroy());
    upstream.on('error', () => client.resetAndDestroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
