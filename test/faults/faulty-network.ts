import net from 'node:net';

interface Link {
  client: net.Socket;
  /** Undefined while the link waits for a stall to end before connecting upstream. */
  upstream?: net.Socket;
}

/**
 * A TCP proxy in front of PostgreSQL that breaks the network between the service and its
 * database, as opposed to the database itself going down, in two ways:
 *
 * - cut: every open connection is reset (both sides, so the server rolls back whatever was in
 *   flight and the client cannot tell whether a COMMIT landed) and new connections are refused;
 * - stall: nothing moves in either direction and new connections hang, as in a partition where
 *   packets are dropped rather than refused; transactions stay open holding their locks, and
 *   everything buffered is delivered late when the stall ends.
 */
export class FaultyNetwork {
  private server: net.Server | undefined;
  private readonly links = new Set<Link>();
  private port = 0;
  private stalled = false;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Starts listening on `port` (0: any free one) and returns the port. */
  async listen(port = 0): Promise<number> {
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Resets every connection and refuses new ones until `restore()`; returns how many it reset. */
  async cut(): Promise<number> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : null;
    const dropped = this.links.size;
    for (const { client, upstream } of this.links) {
      client.resetAndDestroy();
      upstream?.resetAndDestroy();
    }
    this.links.clear();
    await closed;
    return dropped;
  }

  /** Freezes every connection, open or new, until `restore()`; returns how many it froze. */
  stall(): number {
    this.stalled = true;
    for (const { client, upstream } of this.links) {
      if (!upstream) continue;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    return this.links.size;
  }

  /** Ends a cut or a stall. */
  async restore(): Promise<void> {
    if (this.stalled) {
      this.stalled = false;
      for (const link of this.links) {
        if (link.upstream) this.flow(link.client, link.upstream);
        else this.connect(link);
      }
    }
    if (!this.server) await this.listen(this.port);
  }

  async close(): Promise<void> {
    this.stalled = false;
    await this.cut();
  }

  private accept(client: net.Socket): void {
    const link: Link = { client };
    this.links.add(link);
    client.setNoDelay(true);
    client.on('close', () => {
      link.upstream?.destroy();
      this.links.delete(link);
    });
    client.on('error', () => link.upstream?.resetAndDestroy());
    if (this.stalled) client.pause();
    else this.connect(link);
  }

  private connect(link: Link): void {
    const upstream = net.connect(this.target);
    link.upstream = upstream;
    upstream.setNoDelay(true);
    // A reset on one side is passed on as a reset, so neither end mistakes it for a clean close.
    upstream.on('error', () => link.client.resetAndDestroy());
    upstream.on('close', () => link.client.destroy());
    this.flow(link.client, upstream);
  }

  private flow(client: net.Socket, upstream: net.Socket): void {
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
